using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>
/// The view in-process, in the order the kernel may deliver requests: close(2) returns before
/// RELEASE reaches the daemon, so a program's unlink can come first.
/// </summary>
public sealed class DocumentReleaseTests
{
    [Theory]
    [InlineData("/x/summary.md")]
    [InlineData("/.vfs/site/4913")]   // vim's write probe, where every file is a document
    public void CreatedNeverWritten_UnlinkedBeforeRelease_StaysGone(string path)
    {
        using var v = new ViewFixture(prepareStore: dir => Directory.CreateDirectory(Path.Combine(dir, "vfs", "site")));
        v.Context("x");

        ulong h = v.Created(path, OpenFlags.Write | OpenFlags.Exclusive);
        Assert.Equal(0, v.Fs.Flush(h));                   // close(2)
        Assert.Equal(0, v.GetAttr(path, out _));          // the kernel's lookup before unlink finds it
        Assert.Equal(0, v.Fs.Unlink(path));               // … and the unlink comes before the release
        Assert.Equal(0, v.Fs.Release(h));

        Assert.Equal(Errno.ENOENT, v.GetAttr(path, out _));
        string storePath = path.StartsWith("/.vfs/", StringComparison.Ordinal)
            ? Path.Combine(v.Store.VfsDir, path["/.vfs/".Length..]) : Path.Combine(v.Store.ContextsDir, path[1..]);
        Assert.False(File.Exists(storePath), "the release brought the unlinked document back");
    }
}

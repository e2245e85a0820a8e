using VfsMount.FileSystem;
using VfsMount.Store;

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
        string root = Directory.CreateTempSubdirectory("vfsmount-view-").FullName;
        try
        {
            var store = new ChibiStore(Path.Combine(root, "store"));
            Directory.CreateDirectory(Path.Combine(store.VfsDir, "site"));
            var fs = new ContextFileSystem(store, new StringWriter());
            var caller = new Caller(0, 0, Environment.ProcessId);
            Assert.Equal(0, fs.Mkdir("/x", 0x1ED, caller));

            Assert.Equal(0, fs.Create(path, 0x1A4, OpenFlags.Write | OpenFlags.Exclusive, caller, out var opened));
            Assert.Equal(0, fs.Flush(opened.Handle));        // close(2)
            Assert.Equal(0, fs.GetAttr(path, null, out _));  // the kernel's lookup before unlink finds it
            Assert.Equal(0, fs.Unlink(path));                // … and the unlink comes before the release
            Assert.Equal(0, fs.Release(opened.Handle));

            Assert.Equal(Errno.ENOENT, fs.GetAttr(path, null, out _));
            string storePath = path.StartsWith("/.vfs/", StringComparison.Ordinal)
                ? Path.Combine(store.VfsDir, path["/.vfs/".Length..]) : Path.Combine(store.ContextsDir, path[1..]);
            Assert.False(File.Exists(storePath), "the release brought the unlinked document back");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

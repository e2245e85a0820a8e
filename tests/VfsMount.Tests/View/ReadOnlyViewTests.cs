using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>A context's transcript/ in-process (SPEC §2.3): the raw partition files, readable, never changed through the mount (EROFS).</summary>
public sealed class ReadOnlyViewTests : IDisposable
{
    private const string Active = "/c/transcript/active.jsonl";
    private readonly ViewFixture _v = new();

    public ReadOnlyViewTests()
    {
        _v.Context("c");
        Assert.Equal(0, _v.Append("/c/transcript.jsonl", "{\"content\":\"x\"}\n"));
    }

    private string Stored(params string[] parts) => Path.Combine([_v.ContextDir("c"), "transcript", .. parts]);

    private string[] StoredNames() => [.. Directory.GetFileSystemEntries(Stored()).Order(StringComparer.Ordinal)];

    [Fact]
    public void Listing_ShowsThePartitionFiles_ReadsAsStored_NoWriteBits()
    {
        Assert.Contains("active.jsonl", _v.Ls("/c/transcript"));
        Assert.Equal(File.ReadAllText(Stored("active.jsonl")), _v.Cat(Active));
        Assert.Equal(0, _v.GetAttr(Active, out var attr));
        Assert.Equal(0u, attr.Permissions & 0x92);   // no w for owner, group or others
        Assert.Equal(new FileInfo(Stored("active.jsonl")).Length, attr.Size);
    }

    [Fact]
    public void EveryChange_FailsErofs_AndChangesNothing()
    {
        string before = File.ReadAllText(Stored("active.jsonl"));
        var listed = _v.Ls("/c/transcript");
        var stored = StoredNames();
        Assert.Equal(0, _v.Save("/c/x", "mine\n"));

        Assert.Equal(Errno.EROFS, _v.Create("/c/transcript/new.jsonl", OpenFlags.Write, out _));
        Assert.Equal(Errno.EROFS, _v.TryOpen(Active, OpenFlags.Write | OpenFlags.Append, out _));
        Assert.Equal(Errno.EROFS, _v.TryOpen(Active, OpenFlags.ReadWrite, out _));
        Assert.Equal(Errno.EROFS, _v.Fs.Unlink(Active));
        Assert.Equal(Errno.EROFS, _v.Mkdir("/c/transcript/dir"));
        Assert.Equal(Errno.EROFS, _v.Fs.Truncate(Active, null, 0));
        Assert.Equal(Errno.EROFS, _v.Fs.Rename(Active, "/c/stolen.jsonl", RenameFlags.None));
        Assert.Equal(Errno.EROFS, _v.Fs.Rename("/c/x", "/c/transcript/x", RenameFlags.None));
        Assert.Equal(Errno.EROFS, _v.Symlink("active.jsonl", "/c/transcript/l"));
        Assert.Equal(Errno.EROFS, _v.Fs.Chmod(Active, 0x1FF));
        Assert.Equal(Errno.EROFS, _v.Fs.SetTimes(Active, 0, 0));
        Assert.Equal(Errno.EROFS, _v.Fs.Rmdir("/c/transcript/partitions"));

        Assert.Equal(before, File.ReadAllText(Stored("active.jsonl")));
        Assert.Equal(listed, _v.Ls("/c/transcript"));
        Assert.Equal(stored, StoredNames());
        Assert.Equal("mine\n", _v.Cat("/c/x"));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("refused c/transcript/new.jsonl", StringComparison.Ordinal) && l.Contains("EROFS", StringComparison.Ordinal));
    }

    public void Dispose() => _v.Dispose();
}

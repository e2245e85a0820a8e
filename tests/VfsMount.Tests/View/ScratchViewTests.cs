using VfsMount.FileSystem;
using VfsMount.Store.Posix;

namespace VfsMount.Tests.View;

/// <summary>Scratch names in-process (SPEC §2.3): ordinary POSIX files and directories stored in the context's directory.</summary>
public sealed class ScratchViewTests : IDisposable
{
    private readonly ViewFixture _v = new();

    public ScratchViewTests() => _v.Context("c");

    private string Stored(params string[] parts) => Path.Combine([_v.ContextDir("c"), .. parts]);

    [Fact]
    public void CreateWriteReadOverwrite_LandsInTheContextDir()
    {
        Assert.DoesNotContain("notes.txt", _v.Ls("/c"));
        ulong h = _v.Created("/c/notes.txt", OpenFlags.ReadWrite | OpenFlags.Exclusive);
        Assert.Equal(0, _v.Write(h, "one\ntwo\n", 0));
        Assert.Equal(0, _v.Write(h, "XY", 2));   // pwrite in the middle, as natively
        Assert.Equal("onXYtwo\n"u8.ToArray(), _v.ReadAll(h));
        Assert.Equal("onXYtwo\n", File.ReadAllText(Stored("notes.txt")));   // no staging: there at once
        Assert.Equal(0, _v.Close(h));

        Assert.Contains("notes.txt", _v.Ls("/c"));
        Assert.Equal(8, _v.Size("/c/notes.txt"));
        Assert.Equal(Errno.EEXIST, _v.Create("/c/notes.txt", OpenFlags.Write | OpenFlags.Exclusive, out _));
        ulong a = _v.Open("/c/notes.txt", OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(0, _v.Write(a, "end\n", 0));
        Assert.Equal(0, _v.Close(a));
        Assert.Equal("onXYtwo\nend\n", _v.Cat("/c/notes.txt"));
    }

    [Fact]
    public void Truncate_ByNameAndByHandle()
    {
        Assert.Equal(0, _v.Save("/c/notes.txt", "hello world\n"));

        Assert.Equal(0, _v.Fs.Truncate("/c/notes.txt", null, 5));
        Assert.Equal("hello", _v.Cat("/c/notes.txt"));
        ulong h = _v.Open("/c/notes.txt", OpenFlags.ReadWrite);
        Assert.Equal(0, _v.Fs.Truncate("/c/notes.txt", h, 2));
        Assert.Equal(0, _v.Close(h));

        Assert.Equal("he", File.ReadAllText(Stored("notes.txt")));
        Assert.Equal(2, _v.Size("/c/notes.txt"));
    }

    [Fact]
    public void RenameAndUnlink_FollowInTheStore_NoReplaceAndExchangeAsNatively()
    {
        Assert.Equal(0, _v.Save("/c/a.txt", "a\n"));
        Assert.Equal(0, _v.Save("/c/b.txt", "b\n"));

        Assert.Equal(Errno.EEXIST, _v.Fs.Rename("/c/a.txt", "/c/b.txt", RenameFlags.NoReplace));
        Assert.Equal(0, _v.Fs.Rename("/c/a.txt", "/c/b.txt", RenameFlags.Exchange));
        Assert.Equal("b\n", _v.Cat("/c/a.txt"));
        Assert.Equal("a\n", _v.Cat("/c/b.txt"));

        Assert.Equal(0, _v.Fs.Rename("/c/a.txt", "/c/moved.txt", RenameFlags.None));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/a.txt", out _));
        Assert.Equal("b\n", File.ReadAllText(Stored("moved.txt")));

        Assert.Equal(0, _v.Fs.Unlink("/c/moved.txt"));
        Assert.False(File.Exists(Stored("moved.txt")));
        Assert.Equal(Errno.ENOENT, _v.Fs.Unlink("/c/moved.txt"));
        Assert.DoesNotContain("moved.txt", _v.Ls("/c"));
    }

    [Fact]
    public void OpenHandle_AfterUnlink_KeepsReadingAndAnswersGetAttrFromTheHandle()
    {
        Assert.Equal(0, _v.Save("/c/tmp.bin", "still here\n"));
        ulong h = _v.Open("/c/tmp.bin", OpenFlags.ReadWrite);

        Assert.Equal(0, _v.Fs.Unlink("/c/tmp.bin"));

        Assert.Equal("still here\n"u8.ToArray(), _v.ReadAll(h));
        Assert.Equal(0, _v.Fs.GetAttr("", h, out var attr));   // the host's fstat of a file with no name
        Assert.Equal(FileKind.Regular, attr.Kind);
        Assert.Equal(11, attr.Size);
        Assert.Equal(0, _v.Close(h));
    }

    [Fact]
    public void MkdirRmdir_NestedDirectories_AsPosix()
    {
        Assert.Equal(0, _v.Mkdir("/c/work"));
        Assert.Equal(0, _v.Mkdir("/c/work/sub"));
        Assert.Equal(0, _v.Save("/c/work/sub/f", "x\n"));
        Assert.Equal(Errno.EEXIST, _v.Mkdir("/c/work"));
        Assert.Equal(["f"], _v.Ls("/c/work/sub"));
        Assert.True(Directory.Exists(Stored("work", "sub")));

        Assert.Equal(Errno.ENOTEMPTY, _v.Fs.Rmdir("/c/work/sub"));
        Assert.Equal(Errno.ENOTDIR, _v.Fs.ReadDir("/c/work/sub/f", []));
        Assert.Equal(0, _v.Fs.Rename("/c/work/sub/f", "/c/work/g", RenameFlags.None));
        Assert.Equal(0, _v.Fs.Rmdir("/c/work/sub"));
        Assert.Equal(["g"], _v.Ls("/c/work"));

        // Names that are chibi's at the top of a context are plain scratch names below it.
        Assert.Equal(0, _v.Save("/c/work/summary.md", "not a document {"));
        Assert.Equal("not a document {", File.ReadAllText(Stored("work", "summary.md")));
    }

    [Fact]
    public void Symlink_StoredAsSymlink_ReadlinkGivesTheTarget()
    {
        Assert.Equal(0, _v.Save("/c/notes.txt", "target\n"));

        Assert.Equal(0, _v.Symlink("notes.txt", "/c/link"));
        Assert.Equal(0, _v.Symlink("me@host.42:1700000000", "/c/.#notes.txt"));   // an emacs lock file

        Assert.Equal(0, _v.Fs.ReadLink("/c/link", out string target));
        Assert.Equal("notes.txt", target);
        Assert.Equal(0, _v.Fs.ReadLink("/c/.#notes.txt", out string lockTarget));
        Assert.Equal("me@host.42:1700000000", lockTarget);
        Assert.Equal(0, _v.GetAttr("/c/link", out var attr));
        Assert.Equal(FileKind.Symlink, attr.Kind);
        Assert.Equal("notes.txt", new FileInfo(Stored("link")).LinkTarget);
        Assert.Equal(Errno.EEXIST, _v.Symlink("x", "/c/link"));
        Assert.Equal(Errno.EINVAL, _v.Fs.ReadLink("/c/notes.txt", out _));

        Assert.Equal(0, _v.Fs.Unlink("/c/link"));
        Assert.False(File.Exists(Stored("link")) || Directory.Exists(Stored("link")));
        Assert.True(File.Exists(Stored("notes.txt")));
    }

    [Fact]
    public void Symlink_InAScratchPath_IsNeverFollowedByTheView()
    {
        string outside = Path.Combine(_v.Root, "outside");
        Directory.CreateDirectory(outside);
        Assert.Equal(0, _v.Symlink(outside, "/c/escape"));

        Assert.Equal(Errno.ELOOP, _v.Create("/c/escape/planted", OpenFlags.Write, out _));
        Assert.Equal(Errno.ELOOP, _v.GetAttr("/c/escape/planted", out _));
        Assert.Empty(Directory.GetFileSystemEntries(outside));

        // Nor listed: a directory of the store replaced by a symlink is refused, not a listing of its target.
        File.WriteAllText(Path.Combine(outside, "secret"), "x");
        var entries = new List<DirEntry>();
        Assert.Equal(Errno.ELOOP, _v.Fs.ReadDir("/c/escape", entries));
        Assert.Empty(entries);
    }

    [Fact]
    public void ChmodAndSetTimes_StoredOnTheFile()
    {
        Assert.Equal(0, _v.Save("/c/run.sh", "x\n"));

        Assert.Equal(0, _v.Fs.Chmod("/c/run.sh", 0x1E8));   // 0750
        Assert.Equal(0, _v.GetAttr("/c/run.sh", out var attr));
        Assert.Equal(0x1E8u, attr.Permissions & 0xFFF);
        Assert.Equal(0, FileStatus.Lstat(Stored("run.sh"), out var stored));
        Assert.Equal(0x1E8u, stored.Permissions & 0xFFF);

        long t = new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000;
        Assert.Equal(0, _v.Fs.SetTimes("/c/run.sh", null, t));   // UTIME_OMIT for atime
        Assert.Equal(0, _v.GetAttr("/c/run.sh", out var touched));
        Assert.Equal(t, touched.ModifyNs);
        Assert.Equal(attr.AccessNs, touched.AccessNs);
        Assert.Equal(new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Stored("run.sh")));
    }

    public void Dispose() => _v.Dispose();
}

using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>
/// Internal files in-process (SPEC §2): lock files, .dirty and commit temp files are never
/// listed, cannot be opened or read (ENOENT, as if absent), and cannot be made, removed or
/// renamed over through the mount.
/// </summary>
public sealed class InternalNameViewTests : IDisposable
{
    private static readonly string[] Placed = [".lock", ".inbox.lock", ".dirty", "summary.tmp.123", "transcript/.transcript.lock"];
    private readonly ViewFixture _v = new();

    public InternalNameViewTests()
    {
        _v.Context("c");
        foreach (string name in Placed) File.WriteAllText(Stored(name), "internal\n");
    }

    private string Stored(string name) => Path.Combine([_v.ContextDir("c"), .. name.Split('/')]);

    [Fact]
    public void PlacedInTheStore_NotListed_OtherNamesAre()
    {
        var names = _v.Ls("/c");
        var transcript = _v.Ls("/c/transcript");

        foreach (string name in Placed) Assert.DoesNotContain(Path.GetFileName(name), name.StartsWith("transcript/", StringComparison.Ordinal) ? transcript : names);
        Assert.Contains("transcript.jsonl", names);
        Assert.Contains("active.jsonl", transcript);
    }

    [Fact]
    public void DirtyMarkerOfAnAppend_NotListed()
    {
        File.Delete(Stored(".dirty"));
        Assert.Equal(0, _v.Append("/c/transcript.jsonl", "{\"content\":\"x\"}\n"));

        Assert.True(File.Exists(Stored(".dirty")));
        Assert.DoesNotContain(".dirty", _v.Ls("/c"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/.dirty", out _));
    }

    [Theory]
    [InlineData(".lock")]
    [InlineData(".inbox.lock")]
    [InlineData(".dirty")]
    [InlineData("summary.tmp.123")]
    [InlineData("transcript/.transcript.lock")]
    public void Existing_LooksAbsent_AndIsNeverChanged(string name)
    {
        string p = "/c/" + name;

        Assert.Equal(Errno.ENOENT, _v.GetAttr(p, out _));
        Assert.Equal(Errno.ENOENT, _v.TryOpen(p, OpenFlags.ReadOnly, out _));
        Assert.Equal(Errno.ENOENT, _v.Fs.Rename(p, "/c/taken", RenameFlags.None));
        Assert.Equal(Errno.EPERM, _v.Create(p, OpenFlags.Write | OpenFlags.Append, out _));   // looks absent, so O_CREAT creates: refused
        Assert.NotEqual(0, _v.Fs.Unlink(p));
        Assert.NotEqual(0, _v.Fs.Truncate(p, null, 0));
        Assert.Equal(0, _v.Save("/c/scratch.txt", "mine\n"));
        Assert.NotEqual(0, _v.Fs.Rename("/c/scratch.txt", p, RenameFlags.None));

        Assert.Equal("internal\n", File.ReadAllText(Stored(name)));
        Assert.Equal("mine\n", _v.Cat("/c/scratch.txt"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/taken", out _));
    }

    [Theory]
    [InlineData(".lock")]
    [InlineData(".dirty")]
    [InlineData("todos.tmp.7")]
    [InlineData(".vfsmount-tmp-summary.md.abc")]
    public void Absent_CannotBeMade_EpermLogged_NothingInTheStore(string name)
    {
        File.Delete(Stored(".lock"));
        File.Delete(Stored(".dirty"));
        string p = "/c/" + name;

        Assert.Equal(Errno.EPERM, _v.Create(p, OpenFlags.Write, out _));
        Assert.Equal(Errno.EPERM, _v.Mkdir(p));
        Assert.Equal(Errno.EPERM, _v.Symlink("x", p));

        Assert.False(Path.Exists(Stored(name)));
        Assert.DoesNotContain(name, _v.Ls("/c"));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains($"refused c/{name}", StringComparison.Ordinal) && l.Contains("EPERM", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("notes.tmp.5")]          // beside the documents: not a stem of chibi's files
    [InlineData("summary.md.tmp.7")]     // chibi's temp of summary.md is summary.tmp.7
    [InlineData("dir/summary.tmp.7")]    // a scratch directory: every name the user's
    [InlineData("dir/.lock")]
    [InlineData("dir/.vfsmount-tmp-x.abc")]
    public void TempOrLockShaped_WhereTheStorePutsNone_IsScratch(string name)
    {
        Assert.Equal(0, _v.Mkdir("/c/dir"));
        string p = "/c/" + name;

        Assert.Equal(0, _v.Save(p, "mine\n"));
        Assert.Equal("mine\n", _v.Cat(p));
        Assert.Contains(Path.GetFileName(name), _v.Ls(Path.GetDirectoryName(p)!));
        Assert.Equal(0, _v.Fs.Rename(p, p + ".tmp.6", RenameFlags.None));
        Assert.Equal(0, _v.Fs.Unlink(p + ".tmp.6"));
        Assert.False(Path.Exists(Stored(name)));
        Assert.DoesNotContain("refused", _v.Log, StringComparison.Ordinal);
    }

    public void Dispose() => _v.Dispose();
}

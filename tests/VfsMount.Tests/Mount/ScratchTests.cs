namespace VfsMount.Tests.Mount;

/// <summary>
/// Scratch names (SPEC §2.3): ordinary POSIX files and directories stored in the context's
/// directory; transcript/ read-only; internal names of the store invisible and untouchable.
/// </summary>
[Collection("Mount")]
public sealed class ScratchTests
{
    private static MountedStore StartWithDemo()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir demo");
        return m;
    }

    private static string Ctx(MountedStore m, params string[] parts) => m.StorePath(["contexts", "demo", .. parts]);

    [Fact]
    public void CreateWriteAppend_ScratchFile_LandsInContextDir()
    {
        using var m = StartWithDemo();
        Assert.DoesNotContain("notes.txt", ViewProbe.Ls(m, "demo"));

        m.Ok("echo one > demo/notes.txt");
        Assert.Equal("one\n", m.Ok("cat demo/notes.txt"));
        Assert.Equal("one\n", File.ReadAllText(Ctx(m, "notes.txt")));

        m.Ok("echo two >> demo/notes.txt");
        Assert.Equal("one\ntwo\n", m.Ok("cat demo/notes.txt"));
        Assert.Equal("one\ntwo\n", File.ReadAllText(Ctx(m, "notes.txt")));
        Assert.Contains("notes.txt", ViewProbe.Ls(m, "demo"));

        m.Ok("printf 'XY' | dd of=demo/notes.txt bs=1 seek=2 conv=notrunc status=none");
        Assert.Equal("onXYtwo\n", m.Ok("cat demo/notes.txt"));
        Assert.Equal("onXYtwo\n", File.ReadAllText(Ctx(m, "notes.txt")));
    }

    [Fact]
    public void Truncate_ScratchFile_ByNameAndByHandle()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'hello world' > demo/notes.txt");

        m.Ok("truncate -s 5 demo/notes.txt");
        Assert.Equal("hello", m.Ok("cat demo/notes.txt"));
        Assert.Equal(5, new FileInfo(Ctx(m, "notes.txt")).Length);

        Assert.Equal(0, ViewProbe.Errno(m, "with open('demo/notes.txt', 'r+') as f: f.truncate(2)"));
        Assert.Equal("he", m.Ok("cat demo/notes.txt"));
        Assert.Equal("he", File.ReadAllText(Ctx(m, "notes.txt")));

        m.Ok("truncate -s 0 demo/notes.txt");
        Assert.Equal("0", m.Ok("stat -c %s demo/notes.txt").Trim());
    }

    [Fact]
    public void RenameAndUnlink_ScratchFile_FollowsInStore()
    {
        using var m = StartWithDemo();
        m.Ok("echo data > demo/a.txt");

        m.Ok("mv demo/a.txt demo/b.txt");
        Assert.DoesNotContain("a.txt", ViewProbe.Ls(m, "demo"));
        Assert.Contains("b.txt", ViewProbe.Ls(m, "demo"));
        Assert.Equal("data\n", m.Ok("cat demo/b.txt"));
        Assert.False(File.Exists(Ctx(m, "a.txt")));
        Assert.Equal("data\n", File.ReadAllText(Ctx(m, "b.txt")));

        m.Ok("rm demo/b.txt");
        Assert.DoesNotContain("b.txt", ViewProbe.Ls(m, "demo"));
        Assert.False(File.Exists(Ctx(m, "b.txt")));
    }

    [Fact]
    public void MkdirRmdir_NestedScratchDirs_WorkAsPosix()
    {
        using var m = StartWithDemo();

        m.Ok("mkdir -p demo/work/sub && echo x > demo/work/sub/f");
        Assert.Contains("work", ViewProbe.Ls(m, "demo"));
        Assert.Equal(["f"], ViewProbe.Ls(m, "demo/work/sub"));
        Assert.True(Directory.Exists(Ctx(m, "work", "sub")));
        Assert.Equal("x\n", File.ReadAllText(Ctx(m, "work", "sub", "f")));

        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('demo/work/sub')"));   // ENOTEMPTY, as any filesystem
        m.Ok("mv demo/work/sub/f demo/work/g && rmdir demo/work/sub");
        Assert.Equal(["g"], ViewProbe.Ls(m, "demo/work"));
        Assert.False(Directory.Exists(Ctx(m, "work", "sub")));

        m.Ok("rm demo/work/g && rmdir demo/work");
        Assert.DoesNotContain("work", ViewProbe.Ls(m, "demo"));
        Assert.False(Directory.Exists(Ctx(m, "work")));
    }

    [Fact]
    public void Symlink_LnSAndReadlink_StoredAsSymlink()
    {
        using var m = StartWithDemo();
        m.Ok("echo target > demo/notes.txt");

        m.Ok("ln -s notes.txt demo/link && ln -s 'me@host.42:1700000000' demo/.#notes.txt");

        Assert.Equal("notes.txt\n", m.Ok("readlink demo/link"));
        Assert.Equal("target\n", m.Ok("cat demo/link"));
        Assert.Equal("me@host.42:1700000000\n", m.Ok("readlink demo/.#notes.txt"));
        Assert.Contains(".#notes.txt", ViewProbe.Ls(m, "demo"));
        Assert.Equal("notes.txt", new FileInfo(Ctx(m, "link")).LinkTarget);
        Assert.Equal("me@host.42:1700000000", new FileInfo(Ctx(m, ".#notes.txt")).LinkTarget);

        m.Ok("rm demo/.#notes.txt demo/link");
        Assert.DoesNotContain("link", ViewProbe.Ls(m, "demo"));
        Assert.True(File.Exists(Ctx(m, "notes.txt")));
    }

    [Fact]
    public void ChmodAndTouchD_ScratchFile_ModeAndTimesStored()
    {
        using var m = StartWithDemo();
        m.Ok("echo x > demo/run.sh");

        m.Ok("chmod 750 demo/run.sh");
        Assert.Equal("750", m.Ok("stat -c %a demo/run.sh").Trim());
        Assert.Equal("750", Shell.Run("stat", ["-c", "%a", Ctx(m, "run.sh")], "/", 10).Out.Trim());

        m.Ok("touch -d '2001-02-03 04:05:06 UTC' demo/run.sh");
        Assert.Equal("981173106", m.Ok("stat -c %Y demo/run.sh").Trim());
        Assert.Equal(new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Ctx(m, "run.sh")));
    }

    [Fact]
    public void Mmap_ScratchFileReadWrite_ChangesReachStore()
    {
        using var m = StartWithDemo();
        m.Ok("printf 'hello world' > demo/blob.bin");

        var (exit, stdout, stderr) = m.Python("""
            import mmap
            with open('demo/blob.bin', 'r+b') as f:
                mm = mmap.mmap(f.fileno(), 0)
                before = mm[:]
                mm[0:5] = b'HELLO'
                mm.flush()
                mm.close()
            print(before.decode())
            """);

        Assert.True(exit == 0, stderr + m.Log);
        Assert.Equal("hello world", stdout.Trim());
        Assert.Equal("HELLO world", m.Ok("cat demo/blob.bin"));
        Assert.Equal("HELLO world", File.ReadAllText(Ctx(m, "blob.bin")));
    }

    [Fact]
    public void TranscriptDir_Listing_ShowsActiveWithoutLock()
    {
        using var m = StartWithDemo();
        File.WriteAllText(Ctx(m, "transcript", ".transcript.lock"), "");

        var names = ViewProbe.Ls(m, "demo/transcript");

        Assert.Contains("active.jsonl", names);
        Assert.DoesNotContain(".transcript.lock", names);
        Assert.Equal(File.ReadAllText(Ctx(m, "transcript", "active.jsonl")), m.Ok("cat demo/transcript/active.jsonl"));
        Assert.Equal(2, ViewProbe.Errno(m, "open('demo/transcript/.transcript.lock')"));
    }

    [Theory]
    [InlineData("open('demo/transcript/new.jsonl', 'w')")]
    [InlineData("open('demo/transcript/active.jsonl', 'a')")]
    [InlineData("open('demo/transcript/active.jsonl', 'r+')")]
    [InlineData("os.unlink('demo/transcript/active.jsonl')")]
    [InlineData("os.mkdir('demo/transcript/dir')")]
    [InlineData("os.truncate('demo/transcript/active.jsonl', 0)")]
    [InlineData("os.rename('demo/transcript/active.jsonl', 'demo/stolen.jsonl')")]
    [InlineData("open('demo/x', 'w').close(); os.rename('demo/x', 'demo/transcript/x')")]
    [InlineData("os.symlink('active.jsonl', 'demo/transcript/l')")]
    [InlineData("os.chmod('demo/transcript/active.jsonl', 0o777)")]
    public void TranscriptDir_Write_FailsErofs(string statement)
    {
        using var m = StartWithDemo();
        string before = File.ReadAllText(Ctx(m, "transcript", "active.jsonl"));
        var listed = ViewProbe.Ls(m, "demo/transcript");
        var stored = Directory.GetFileSystemEntries(Ctx(m, "transcript")).Order(StringComparer.Ordinal).ToArray();
        Assert.Contains("active.jsonl", listed);

        Assert.Equal(30, ViewProbe.Errno(m, statement));

        Assert.Equal(before, File.ReadAllText(Ctx(m, "transcript", "active.jsonl")));
        Assert.Equal(listed, ViewProbe.Ls(m, "demo/transcript"));
        Assert.Equal(stored, Directory.GetFileSystemEntries(Ctx(m, "transcript")).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void TranscriptDir_WriteRefusal_LoggedWithContextAndFile()
    {
        using var m = StartWithDemo();

        Assert.NotEqual(0, m.Sh("echo x > demo/transcript/new.jsonl").Exit);

        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/transcript/new.jsonl", StringComparison.Ordinal) && l.Contains("EROFS", StringComparison.Ordinal));
    }

    private static readonly string[] InternalNames = [".lock", ".inbox.lock", ".dirty", "summary.tmp.123", "context_meta.tmp.9", ".lock.tmp.4"];

    private static MountedStore StartWithInternals()
    {
        var m = StartWithDemo();
        foreach (var name in InternalNames) File.WriteAllText(Ctx(m, name), "internal\n");
        File.WriteAllText(Ctx(m, "transcript", ".transcript.lock"), "");
        return m;
    }

    [Fact]
    public void InternalNames_PlacedInStore_NotListed()
    {
        using var m = StartWithInternals();

        var names = ViewProbe.Ls(m, "demo");
        var transcriptNames = ViewProbe.Ls(m, "demo/transcript");

        foreach (var name in InternalNames) Assert.DoesNotContain(name, names);
        Assert.DoesNotContain(".transcript.lock", transcriptNames);
        Assert.Contains("transcript.jsonl", names);
        Assert.Contains("active.jsonl", transcriptNames);
        Assert.Equal("", m.Ok("ls -a demo | grep -E '^\\.(lock|inbox\\.lock|dirty)$|tmp\\.[0-9]+$' || true"));
    }

    [Theory]
    [InlineData(".lock")]
    [InlineData(".inbox.lock")]
    [InlineData(".dirty")]
    [InlineData("summary.tmp.123")]
    [InlineData("transcript/.transcript.lock")]
    public void InternalName_OpenStatRenameRemove_Refused(string name)
    {
        using var m = StartWithInternals();
        string store = Ctx(m, name.Split('/'));
        string content = File.ReadAllText(store);
        string p = $"demo/{name}";

        Assert.Equal(2, ViewProbe.Errno(m, $"open('{p}').read()"));
        Assert.Equal(2, ViewProbe.Errno(m, $"os.stat('{p}')"));
        Assert.Equal(1, ViewProbe.Errno(m, $"open('{p}', 'a').write('x')"));   // looks absent, so O_CREAT creates: refused
        Assert.Equal(2, ViewProbe.Errno(m, $"os.unlink('{p}')"));
        Assert.Equal(2, ViewProbe.Errno(m, $"os.rename('{p}', 'demo/taken')"));
        m.Ok("echo mine > demo/scratch.txt");
        Assert.Contains(ViewProbe.Errno(m, $"os.rename('demo/scratch.txt', '{p}')"), new[] { 1, 30 });
        Assert.Equal("mine\n", m.Ok("cat demo/scratch.txt"));

        Assert.Equal(content, File.ReadAllText(store));
        Assert.False(File.Exists(Ctx(m, "taken")));
    }

    [Theory]
    [InlineData(".lock")]
    [InlineData(".dirty")]
    [InlineData("local.tmp.7")]
    [InlineData(".vfsmount-tmp-summary.md.abc")]
    public void InternalName_CreateAbsent_FailsEpermNothingInStore(string name)
    {
        using var m = StartWithDemo();

        Assert.Equal(1, ViewProbe.Errno(m, $"open('demo/{name}', 'w').close()"));
        Assert.Equal(1, ViewProbe.Errno(m, $"os.mkdir('demo/{name}')"));
        Assert.Equal(1, ViewProbe.Errno(m, $"os.symlink('x', 'demo/{name}')"));

        Assert.False(Path.Exists(Ctx(m, name)));
        Assert.DoesNotContain(name, ViewProbe.Ls(m, "demo"));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains($"refused demo/{name}", StringComparison.Ordinal) && l.Contains("EPERM", StringComparison.Ordinal));
    }
}

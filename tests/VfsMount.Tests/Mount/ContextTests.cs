using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>Contexts (SPEC §2.4): mkdir, rename and rmdir through the kernel, and store changes by others.</summary>
[Collection("Mount")]
public sealed class ContextTests
{
    private static string[] Root(MountedStore m) => ViewProbe.Ls(m, ".");

    private static string[] StateNames(MountedStore m) => ViewProbe.StateNames(File.ReadAllText(m.StorePath("state.json")));

    private static void Append(MountedStore m, string context, string content) =>
        m.Ok($"echo '{{\"content\":\"{content}\"}}' >> {context}/transcript.jsonl");

    [Fact]
    public void Mkdir_NewContext_CreatesAnchorAndRegistryRecord()
    {
        using var m = MountedStore.Start();
        Assert.DoesNotContain("work", Root(m));
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        m.Ok("mkdir work");

        Assert.Contains("work", Root(m));
        Assert.True(Directory.Exists(m.StorePath("contexts", "work")));
        var lines = File.ReadAllLines(m.StorePath("contexts", "work", "transcript", "active.jsonl"));
        var anchor = Assert.Single(lines);
        using (var doc = JsonDocument.Parse(anchor))
        {
            var e = doc.RootElement;
            Assert.Equal("context_created", e.GetProperty("entry_type").GetString());
            Assert.Equal("system", e.GetProperty("from").GetString());
            Assert.Equal("work", e.GetProperty("to").GetString());
            Assert.Equal("Context created", e.GetProperty("content").GetString());
            Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _));
            Assert.InRange(e.GetProperty("timestamp").GetInt64(), before, before + 30);
        }
        Assert.Equal(["work"], StateNames(m));
        using (var state = JsonDocument.Parse(m.Ok("cat state.json")))
        {
            var record = state.RootElement.GetProperty("contexts")[0];
            Assert.Equal("work", record.GetProperty("name").GetString());
            Assert.InRange(record.GetProperty("created_at").GetInt64(), before, before + 30);
        }
        Assert.Equal(anchor + "\n", m.Ok("cat work/transcript.jsonl"));
        var names = ViewProbe.Ls(m, "work");
        Assert.Equal(["inbox.jsonl", "transcript", "transcript.jsonl", "transcript.md"], names.Order(StringComparer.Ordinal));
        Assert.Equal(17, ViewProbe.Errno(m, "os.mkdir('work')"));   // EEXIST the second time
    }

    [Theory]
    [InlineData("bad name", 22)]
    [InlineData("-x", 22)]
    [InlineData("system", 22)]
    [InlineData("SYSTEM", 22)]
    [InlineData("a.b", 22)]
    [InlineData("caf\u00e9", 22)]
    public void Mkdir_InvalidName_FailsWithErrnoAndLogs(string name, int expected)
    {
        using var m = MountedStore.Start();
        string stateBefore = File.Exists(m.StorePath("state.json")) ? File.ReadAllText(m.StorePath("state.json")) : "";

        Assert.Equal(expected, ViewProbe.Errno(m, $"os.mkdir({JsonSerializer.Serialize(name)})"));

        Assert.Empty(Directory.GetFileSystemEntries(m.StorePath("contexts")));
        Assert.DoesNotContain(name, Root(m));
        Assert.Equal(stateBefore, File.Exists(m.StorePath("state.json")) ? File.ReadAllText(m.StorePath("state.json")) : "");
        Assert.Contains(m.Log.Split('\n'), l => l.Contains(name, StringComparison.Ordinal) && (l.Contains("EINVAL", StringComparison.Ordinal) || l.Contains("errno 22", StringComparison.Ordinal)));
    }

    [Fact]
    public void Mkdir_DashNameFromShell_Fails()
    {
        using var m = MountedStore.Start();

        var (exit, _, err) = m.Sh("mkdir -- -x");

        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", err);
        Assert.False(Directory.Exists(m.StorePath("contexts", "-x")));
    }

    [Fact]
    public void Mkdir_OverlongName_FailsEnametoolong()
    {
        using var m = MountedStore.Start();

        Assert.Equal(36, ViewProbe.Errno(m, "os.mkdir('a' * 300)"));

        Assert.Empty(Directory.GetFileSystemEntries(m.StorePath("contexts")));
    }

    [Fact]
    public void Mkdir_LongestValidName_Succeeds()
    {
        using var m = MountedStore.Start();
        string name = new('n', 255);

        Assert.Equal(0, ViewProbe.Errno(m, $"os.mkdir('{name}')"));

        Assert.Contains(name, Root(m));
        Assert.Contains(name, StateNames(m));
    }

    [Fact]
    public void Rename_Context_MovesDirectoryAndRegistry()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir a");
        Append(m, "a", "kept");
        m.Ok("echo sum > a/summary.md");
        string transcript = m.Ok("cat a/transcript.jsonl");

        m.Ok("mv a b");

        var root = Root(m);
        Assert.DoesNotContain("a", root);
        Assert.Contains("b", root);
        Assert.Equal(transcript, m.Ok("cat b/transcript.jsonl"));
        Assert.Equal("sum\n", m.Ok("cat b/summary.md"));
        Assert.False(Directory.Exists(m.StorePath("contexts", "a")));
        Assert.True(File.Exists(m.StorePath("contexts", "b", "transcript", "active.jsonl")));
        Assert.Equal(["b"], StateNames(m));

        Append(m, "b", "after");   // the renamed context takes appends under its new name
        Assert.Contains("\"content\":\"after\"", File.ReadAllText(m.StorePath("contexts", "b", "transcript", "active.jsonl")));
        Assert.False(Directory.Exists(m.StorePath("contexts", "a")));
    }

    [Fact]
    public void Rename_OntoExistingContext_FailsEexistBothKept()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir a b");
        Append(m, "a", "in-a");
        string a = m.Ok("cat a/transcript.jsonl"), b = m.Ok("cat b/transcript.jsonl");

        Assert.Equal(17, ViewProbe.Errno(m, "os.rename('a', 'b')"));

        Assert.Equal(a, m.Ok("cat a/transcript.jsonl"));
        Assert.Equal(b, m.Ok("cat b/transcript.jsonl"));
        Assert.Equal(["a", "b"], StateNames(m).Order(StringComparer.Ordinal));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("\"b\" exists", StringComparison.Ordinal));
    }

    [Fact]
    public void Rename_WhileChibiHoldsLock_FailsEbusy()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir a");
        File.WriteAllText(m.StorePath("contexts", "a", ".lock"), DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(16, ViewProbe.Errno(m, "os.rename('a', 'c')"));

        Assert.Contains("a", Root(m));
        Assert.DoesNotContain("c", Root(m));
        Assert.True(Directory.Exists(m.StorePath("contexts", "a")));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("chibi holds context \"a\"", StringComparison.Ordinal));

        File.WriteAllText(m.StorePath("contexts", "a", ".lock"), (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, ViewProbe.Errno(m, "os.rename('a', 'c')"));   // a stale lock does not hold the context
        Assert.Contains("c", Root(m));
    }

    [Fact]
    public void Rename_ToInvalidName_FailsEinval()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir a");

        Assert.Equal(22, ViewProbe.Errno(m, "os.rename('a', 'bad name')"));

        Assert.Equal(["a"], Root(m).Where(n => n is not "state.json" and not ".vfsmount"));
        Assert.True(Directory.Exists(m.StorePath("contexts", "a")));
    }

    [Fact]
    public void Rmdir_FreshContext_RemovesDirectoryAndRecord()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir fresh keep");
        m.Ok("echo s > fresh/summary.md");
        Assert.Equal(["fresh", "keep"], StateNames(m).Order(StringComparer.Ordinal));

        m.Ok("rmdir fresh");

        Assert.DoesNotContain("fresh", Root(m));
        Assert.False(Directory.Exists(m.StorePath("contexts", "fresh")));
        Assert.Equal(["keep"], StateNames(m));
        Assert.Equal(2, ViewProbe.Errno(m, "os.stat('fresh')"));
    }

    [Fact]
    public void Rmdir_ContextWithEntry_FailsEnotemptyHistoryKept()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir busy");
        Append(m, "busy", "history");
        string transcript = m.Ok("cat busy/transcript.jsonl");

        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('busy')"));

        Assert.Contains("busy", Root(m));
        Assert.Equal(transcript, m.Ok("cat busy/transcript.jsonl"));
        Assert.Equal(transcript, File.ReadAllText(m.StorePath("contexts", "busy", "transcript", "active.jsonl")));
        Assert.Equal(["busy"], StateNames(m));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("busy", StringComparison.Ordinal) && l.Contains("beyond its anchor", StringComparison.Ordinal));
    }

    [Fact]
    public void Rmdir_ContextWithScratch_FailsEnotempty()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c && echo mine > c/notes.txt");

        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('c')"));

        Assert.Equal("mine\n", File.ReadAllText(m.StorePath("contexts", "c", "notes.txt")));
        Assert.Contains("c", Root(m));
    }

    [Fact]
    public void ExternalMkdirAndRemove_InStore_ShowWithinOneSecond()
    {
        using var m = MountedStore.Start();
        Assert.DoesNotContain("x", Root(m));
        Assert.Equal(2, ViewProbe.Errno(m, "os.stat('x')"));

        Directory.CreateDirectory(m.StorePath("contexts", "x"));
        Directory.CreateDirectory(m.StorePath("contexts", "not.valid"));
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1), () => Root(m).Contains("x")), "an external context did not show within 1 s");
        Assert.Equal(0, ViewProbe.Errno(m, "os.stat('x')"));
        Assert.DoesNotContain("not.valid", Root(m));

        Directory.Delete(m.StorePath("contexts", "x"));
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1), () => !Root(m).Contains("x")), "a removed context still listed after 1 s");
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1.2), () => ViewProbe.Errno(m, "os.stat('x')") == 2), "a removed context still stats after 1 s");
    }

    [Fact]
    public void ExternalSymlinkContext_InStore_NotListed()
    {
        using var m = MountedStore.Start();
        string outside = Path.Combine(m.Root, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "summary.md"), "secret\n");
        File.CreateSymbolicLink(m.StorePath("contexts", "evil"), outside);

        Assert.DoesNotContain("evil", Root(m));
        Assert.Equal(2, ViewProbe.Errno(m, "open('evil/summary.md').read()"));
        Assert.Equal(2, ViewProbe.Errno(m, "open('evil/notes', 'w').close()"));
        Assert.Equal(["summary.md"], Directory.GetFiles(outside).Select(Path.GetFileName));
    }

    [Fact]
    public void ExternalContext_WithoutTranscriptDir_ListsCleanly()
    {
        using var m = MountedStore.Start();
        Directory.CreateDirectory(m.StorePath("contexts", "ext"));

        var (exit, stdout, stderr) = m.Sh("ls -la ext");

        Assert.True(exit == 0, $"ls -la failed: {stderr}");
        Assert.DoesNotContain("?", stdout);
        Assert.Equal(["inbox.jsonl", "transcript.jsonl", "transcript.md"], ViewProbe.Ls(m, "ext").Order(StringComparer.Ordinal));
        Assert.Equal("", m.Ok("cat ext/transcript.jsonl"));

        Append(m, "ext", "first");
        Assert.Contains("transcript", ViewProbe.Ls(m, "ext"));
        Assert.Equal(["active.jsonl"], ViewProbe.Ls(m, "ext/transcript"));
    }

    [Fact]
    public void Rmdir_ExternalContextWithOneMessageNoAnchor_FailsEnotempty()
    {
        using var m = MountedStore.Start();
        Directory.CreateDirectory(m.StorePath("contexts", "ext"));
        Append(m, "ext", "the only message");
        string transcript = m.Ok("cat ext/transcript.jsonl");
        Assert.Single(transcript.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('ext')"));

        Assert.Contains("ext", Root(m));
        Assert.Equal(transcript, File.ReadAllText(m.StorePath("contexts", "ext", "transcript", "active.jsonl")));
    }

    [Fact]
    public void Rmdir_ExternalEmptyContext_Succeeds()
    {
        using var m = MountedStore.Start();
        Directory.CreateDirectory(m.StorePath("contexts", "ext"));
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1), () => Root(m).Contains("ext")));

        m.Ok("rmdir ext");

        Assert.False(Directory.Exists(m.StorePath("contexts", "ext")));
        Assert.DoesNotContain("ext", Root(m));
    }
}

namespace VfsMount.Tests.Mount;

/// <summary>
/// renameat2 through the kernel (SPEC §2.3, §3): RENAME_EXCHANGE with a document is a validated
/// commit both ways or EINVAL with both files as they were; among scratch names it and
/// RENAME_NOREPLACE behave as natively; logs and transcript/ refuse as a plain rename does.
/// python's os module has no renameat2, so it is called through ctypes.
/// </summary>
[Collection("Mount")]
public sealed class RenameExchangeTests
{
    private const int NoReplace = 1, Exchange = 2;

    private const string Renameat2 = """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def renameat2(a, b, flags):
            if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e), a)
        """;

    private static int Rename(MountedStore m, string from, string to, int flags) =>
        ViewProbe.Errno(m, $"{Renameat2}\nrenameat2('{from}', '{to}', {flags})");

    private static string Ctx(MountedStore m, params string[] parts) => m.StorePath(["contexts", "demo", .. parts]);

    private static MountedStore StartWithDemo()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir demo && printf '{\"a\": 1}' > demo/context_meta.json && echo 'the summary' > demo/summary.md");
        return m;
    }

    [Fact]
    public void Exchange_DocumentWithValidScratch_CommittedBothWays()
    {
        using var m = StartWithDemo();
        m.Ok("printf '{\"b\": 2}' > demo/next.json");
        // A reader that opened the document before keeps its bytes; every open after sees the new ones.
        var (exit, output, err) = m.Python(Renameat2 + "\n" + """
            r = open('demo/context_meta.json')
            before = os.stat('demo/context_meta.json').st_ino
            renameat2('demo/next.json', 'demo/context_meta.json', 2)
            print(r.read())
            print(open('demo/context_meta.json').read())
            print(os.stat('demo/context_meta.json').st_ino != before)
            """);
        Assert.True(exit == 0, err + m.Log);
        Assert.Equal(["{\"a\": 1}", "{\"b\": 2}", "True"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal("{\"a\": 1}", m.Ok("cat demo/next.json"));
        Assert.Equal("{\"b\": 2}", File.ReadAllText(Ctx(m, "context_meta.json")));
        Assert.Equal("{\"a\": 1}", File.ReadAllText(Ctx(m, "next.json")));
        // A document still: what is written to it now is validated.
        Assert.NotEqual(0, m.Sh("printf '{broken' > demo/context_meta.json").Exit);
        Assert.Equal("{\"b\": 2}", File.ReadAllText(Ctx(m, "context_meta.json")));
    }

    [Theory]
    [InlineData("context_meta.json", "not json\n")]
    [InlineData("local.toml", "= nope\n")]
    [InlineData("summary.md", "a\u00ffb")]
    public void Exchange_DocumentWithInvalidScratch_EinvalBothUnchanged(string document, string junk)
    {
        using var m = StartWithDemo();
        if (document == "local.toml") m.Ok("echo 'model = \"x\"' > demo/local.toml");
        File.WriteAllBytes(Ctx(m, "junk"), System.Text.Encoding.Latin1.GetBytes(junk));
        byte[] doc = File.ReadAllBytes(Ctx(m, document));
        byte[] scratch = File.ReadAllBytes(Ctx(m, "junk"));

        Assert.Equal(22, Rename(m, $"demo/{document}", "demo/junk", Exchange));
        Assert.Equal(22, Rename(m, "demo/junk", $"demo/{document}", Exchange));

        Assert.Equal(doc, File.ReadAllBytes(Ctx(m, document)));
        Assert.Equal(scratch, File.ReadAllBytes(Ctx(m, "junk")));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(doc), m.Ok($"cat demo/{document}"));
        Assert.Equal(2, m.Log.Split('\n').Count(l => l.Contains($"refused demo/{document}", StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal)));
    }

    [Fact]
    public void Exchange_TwoDocuments_EachValidatedForTheOther()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'goals here' > demo/goals.md");

        Assert.Equal(0, Rename(m, "demo/summary.md", "demo/goals.md", Exchange));
        Assert.Equal("goals here\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("the summary\n", m.Ok("cat demo/goals.md"));

        // summary.md's text is no JSON object: context_meta.json refuses it, and neither moves.
        Assert.Equal(22, Rename(m, "demo/summary.md", "demo/context_meta.json", Exchange));
        Assert.Equal("goals here\n", File.ReadAllText(Ctx(m, "summary.md")));
        Assert.Equal("{\"a\": 1}", File.ReadAllText(Ctx(m, "context_meta.json")));
    }

    [Fact]
    public void Exchange_DocumentWithScratchDirectory_Einval()
    {
        using var m = StartWithDemo();
        m.Ok("mkdir demo/dir");

        Assert.Equal(22, Rename(m, "demo/dir", "demo/summary.md", Exchange));
        Assert.Equal("the summary\n", m.Ok("cat demo/summary.md"));
        Assert.True(Directory.Exists(Ctx(m, "dir")));
    }

    [Fact]
    public void Exchange_VfsDocumentWithVfsDirectory_Einval()
    {
        using var m = MountedStore.Start(prepareStore: store =>
        {
            Directory.CreateDirectory(Path.Combine(store, "vfs", "site", "notes"));
            File.WriteAllText(Path.Combine(store, "vfs", "site", "goals.md"), "goals\n");
        });

        Assert.Equal(22, Rename(m, ".vfs/site/notes", ".vfs/site/goals.md", Exchange));
        Assert.Equal(22, Rename(m, ".vfs/site/goals.md", ".vfs/site/notes", Exchange));
        Assert.Equal("goals\n", m.Ok("cat .vfs/site/goals.md"));
        Assert.True(Directory.Exists(m.StorePath("vfs", "site", "notes")));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused .vfs/site/goals.md", StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public void Exchange_TwoScratchNames_AsNatively()
    {
        using var m = StartWithDemo();
        m.Ok("echo a > demo/a && mkdir demo/dir && echo b > demo/dir/b");

        Assert.Equal(0, Rename(m, "demo/a", "demo/dir/b", Exchange));
        Assert.Equal("b\n", m.Ok("cat demo/a"));
        Assert.Equal("a\n", m.Ok("cat demo/dir/b"));
        Assert.Equal(0, Rename(m, "demo/a", "demo/dir", Exchange));   // a file and a directory swap too
        Assert.Equal("b\n", m.Ok("cat demo/dir"));
        Assert.Equal("a\n", m.Ok("cat demo/a/b"));
        Assert.Equal(2, Rename(m, "demo/a/b", "demo/missing", Exchange));
    }

    [Fact]
    public void NoReplace_ScratchNames_EexistThenMoves()
    {
        using var m = StartWithDemo();
        m.Ok("echo a > demo/a && echo b > demo/b");

        Assert.Equal(17, Rename(m, "demo/a", "demo/b", NoReplace));
        Assert.Equal("a\n", m.Ok("cat demo/a"));
        Assert.Equal("b\n", m.Ok("cat demo/b"));
        Assert.Equal(0, Rename(m, "demo/a", "demo/c", NoReplace));
        Assert.Equal("a\n", m.Ok("cat demo/c"));
        Assert.False(File.Exists(Ctx(m, "a")));
        Assert.Equal(17, Rename(m, "demo/c", "demo/summary.md", NoReplace));
        Assert.Equal("the summary\n", m.Ok("cat demo/summary.md"));
    }

    [Theory]
    [InlineData("demo/transcript.jsonl", 1)]
    [InlineData("demo/inbox.jsonl", 1)]
    [InlineData("demo/transcript/active.jsonl", 30)]
    public void Exchange_WithLogOrTranscriptDir_RefusedAsRename(string log, int errno)
    {
        using var m = StartWithDemo();
        m.Ok("echo '{\"content\":\"hi\"}' >> demo/inbox.jsonl && echo x > demo/x");
        string before = m.Ok($"cat {log}");

        Assert.Equal(errno, Rename(m, log, "demo/x", Exchange));
        Assert.Equal(errno, Rename(m, "demo/x", log, Exchange));
        Assert.Equal(before, m.Ok($"cat {log}"));
        Assert.Equal("x\n", m.Ok("cat demo/x"));
    }

    [Fact]
    public void Rename_InvalidScratchOverDocument_EinvalDocumentKept()
    {
        using var m = StartWithDemo();
        m.Ok("mkdir demo/dir && echo 'not json' > demo/dir/meta.json && printf '{\"c\": 3}' > demo/dir/good.json");

        Assert.Equal(22, Rename(m, "demo/dir/meta.json", "demo/context_meta.json", 0));
        Assert.Equal("{\"a\": 1}", m.Ok("cat demo/context_meta.json"));
        Assert.Equal("not json\n", m.Ok("cat demo/dir/meta.json"));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/context_meta.json: not JSON", StringComparison.Ordinal));

        Assert.Equal(0, Rename(m, "demo/dir/good.json", "demo/context_meta.json", 0));
        Assert.Equal("{\"c\": 3}", m.Ok("cat demo/context_meta.json"));
        Assert.False(File.Exists(Ctx(m, "dir", "good.json")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Exchange)]
    public void RenameOrExchange_HardLinkedScratchIntoDocument_Einval(int flags)
    {
        using var m = StartWithDemo();
        m.Ok("echo linked > demo/a && ln demo/a demo/b");

        // Else a write through demo/b would change summary.md unvalidated.
        Assert.Equal(22, Rename(m, "demo/a", "demo/summary.md", flags));
        Assert.Equal("the summary\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("linked\n", m.Ok("cat demo/a"));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/summary.md: a file with other hard links", StringComparison.Ordinal));
    }
}

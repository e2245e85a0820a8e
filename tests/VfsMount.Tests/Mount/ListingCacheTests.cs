using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// The kernel caches directory listings (no opendir, FOPEN_CACHE_DIR; SPEC §2.6): each test
/// lists a directory first, so the kernel holds its listing, then changes it — through the
/// mount, as a side effect of the view, or in the store by another program — and lists again.
/// A change through the mount shows at once; one by others at once where the store is watched
/// (inotify), and within the 1 s attribute timeout elsewhere (the directory's mtime moved).
/// </summary>
[Collection("Mount")]
public sealed class ListingCacheTests
{
    private static MountedStore StartWithDemo(string extraArgs = "")
    {
        var m = MountedStore.Start(extraArgs);
        m.Ok("mkdir demo");
        return m;
    }

    private static string Ctx(MountedStore m, params string[] parts) => m.StorePath(["contexts", "demo", .. parts]);

    private static string[] Ls(MountedStore m, string dir) => m.Ok($"ls -a {dir}").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static JsonElement Python(MountedStore m, string program)
    {
        var (exit, stdout, stderr) = m.Python("import os, json, time\n" + program);
        Assert.True(exit == 0, $"python exited {exit}: {stderr}\ndaemon log:\n{m.Log}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    /// <summary>
    /// Lists dir (the kernel caches the listing), runs <paramref name="change"/> (python, in the
    /// store: another program's change) at once, then polls the listing for 3 s: the seconds
    /// until <paramref name="name"/> is (or is no longer) listed, -1 if never. All in one process,
    /// milliseconds apart, so the directory's cached attributes are still fresh: only a
    /// notification can make the kernel read the listing again this soon.
    /// </summary>
    private static double SecondsUntilListed(MountedStore m, string dir, string change, string name, bool present = true)
    {
        var o = Python(m, $$"""
            import shutil
            assert ('{{name}}' in os.listdir('{{dir}}')) != {{(present ? "True" : "False")}}
            {{change}}
            start = time.monotonic()
            seen = -1
            while time.monotonic() - start < 3:
                if ('{{name}}' in os.listdir('{{dir}}')) == {{(present ? "True" : "False")}}:
                    seen = round(time.monotonic() - start, 3)
                    break
                time.sleep(0.01)
            print(json.dumps({'seen': seen}))
            """);
        return o.GetProperty("seen").GetDouble();
    }

    [Fact]
    public void ScratchListing_NamesAddedRemovedAndRenamedThroughTheMount_ShowAtOnce()
    {
        using var m = StartWithDemo();
        m.Ok("mkdir demo/tmp && touch demo/tmp/a");
        Assert.Equal([".", "..", "a"], Ls(m, "demo/tmp"));
        m.Ok("touch demo/tmp/b");
        Assert.Equal([".", "..", "a", "b"], Ls(m, "demo/tmp"));
        m.Ok("mv demo/tmp/a demo/tmp/c && rm demo/tmp/b && mkdir demo/tmp/d");
        Assert.Equal([".", "..", "c", "d"], Ls(m, "demo/tmp"));
        m.Ok("mv demo/tmp/c demo/e");
        Assert.Equal([".", "..", "d"], Ls(m, "demo/tmp"));
        Assert.Contains("e", Ls(m, "demo"));
    }

    [Fact]
    public void RootListing_ContextsMadeRenamedAndRemovedThroughTheMount_ShowAtOnce()
    {
        using var m = StartWithDemo();
        Assert.Contains("demo", Ls(m, "."));
        m.Ok("mkdir beta");
        Assert.Contains("beta", Ls(m, "."));
        m.Ok("mv beta gamma");
        var after = Ls(m, ".");
        Assert.Contains("gamma", after);
        Assert.DoesNotContain("beta", after);
        m.Ok("rmdir gamma");
        Assert.DoesNotContain("gamma", Ls(m, "."));
    }

    [Fact]
    public void ContextListing_ADocumentCommittedAtClose_ShowsAtOnce()
    {
        using var m = StartWithDemo();
        // The listing is read (and cached) while the new document is still staged: its commit at
        // close, not the create, is what puts it in the store.
        var o = Python(m, """
            f = open('demo/goals.md', 'w')
            before = sorted(os.listdir('demo'))
            f.write('the goal\n')
            f.close()
            print(json.dumps({'before': before, 'after': sorted(os.listdir('demo'))}))
            """);

        Assert.Contains("goals.md", o.GetProperty("after").EnumerateArray().Select(e => e.GetString()));
        Assert.True(File.Exists(Ctx(m, "goals.md")));
    }

    [Fact]
    public void TranscriptListing_ARotationByAnAppendThroughTheMount_ShowsAtOnce()
    {
        using var m = StartWithDemo("--partition-max-entries 3");
        Assert.Equal([".", "..", "active.jsonl"], Ls(m, "demo/transcript"));
        m.Ok("echo '{\"content\":\"a1\"}' >> demo/transcript.jsonl");
        m.Ok("echo '{\"content\":\"a2\"}' >> demo/transcript.jsonl");   // the third entry: rotates
        Assert.Equal([".", "..", "manifest.json", "partitions"], Ls(m, "demo/transcript"));
        Assert.Single(Ls(m, "demo/transcript/partitions"), f => f.EndsWith(".jsonl", StringComparison.Ordinal));
        for (int i = 3; i <= 5; i++) m.Ok($"echo '{{\"content\":\"a{i}\"}}' >> demo/transcript.jsonl");   // a second rotation
        Assert.Equal(2, Ls(m, "demo/transcript/partitions").Count(f => f.EndsWith(".jsonl", StringComparison.Ordinal)));
    }

    [Fact]
    public void ContextListing_AFileMadeInTheStoreByAnotherProgram_ShowsAtOnce()
    {
        using var m = StartWithDemo();
        string notes = Ctx(m, "notes.txt");
        double seen = SecondsUntilListed(m, "demo", $"open('{notes}', 'w').write('by someone else')", "notes.txt");
        Assert.True(seen is >= 0 and < 0.5, $"notes.txt listed after {seen} s (-1: never); the cached listing outlived inotify's news");

        seen = SecondsUntilListed(m, "demo", $"os.unlink('{notes}')", "notes.txt", present: false);
        Assert.True(seen is >= 0 and < 0.5, $"notes.txt still listed after {seen} s (-1: for 3 s)");
    }

    [Fact]
    public void RootListing_AContextMadeInTheStoreByChibi_ShowsAtOnce()
    {
        using var m = StartWithDemo();
        string other = m.StorePath("contexts", "other");
        double seen = SecondsUntilListed(m, ".", $"os.makedirs('{other}/transcript')", "other");
        Assert.True(seen is >= 0 and < 0.5, $"the new context listed after {seen} s (-1: never)");

        seen = SecondsUntilListed(m, ".", $"shutil.rmtree('{other}')", "other", present: false);
        Assert.True(seen is >= 0 and < 0.5, $"the removed context still listed after {seen} s (-1: for 3 s)");
    }

    [Fact]
    public void TranscriptListing_ARotationByAnotherProgram_ShowsAtOnce()
    {
        using var m = StartWithDemo();
        string manifest = Ctx(m, "transcript", "manifest.json");
        double seen = SecondsUntilListed(m, "demo/transcript",
            $"open('{manifest}', 'w').write('{{\"version\": 1, \"active_partition\": \"active.jsonl\", \"partitions\": []}}')", "manifest.json");
        Assert.True(seen is >= 0 and < 0.5, $"manifest.json listed after {seen} s (-1: never)");
    }

    [Fact]
    public void ScratchListing_ChangedInTheStoreByAnotherProgram_ShowsWithinTheTimeout()
    {
        using var m = StartWithDemo();
        m.Ok("mkdir demo/tmp");
        // Scratch subdirectories are not watched: their mtime, refreshed after the 1 s attribute
        // timeout, tells the kernel its cached listing is stale.
        double seen = SecondsUntilListed(m, "demo/tmp", $"open('{Ctx(m, "tmp", "theirs")}', 'w').write('x')", "theirs");
        Assert.True(seen is >= 0 and <= 1.3, $"theirs listed after {seen} s (-1: never)");
    }
}

using System.Text.Json;
using VfsMount.Tests.Mount;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §3's last row through the real mount: a symlink or a FIFO planted in the store at every
/// name the daemon opens — transcript/, transcript/partitions/, manifest.json, .transcript.lock,
/// .inbox.lock, .lock, local.toml, config.toml, a partition, a document, state.json. Each case
/// plants one thing in a context of its own, runs the operations that make the daemon open it
/// (each in a child killed after 10 s, so a blocked open fails the test instead of hanging it),
/// and checks: a clear error (EIO, or ELOOP for a symlink), one log line naming the file, no
/// byte of the canary outside the store served, nothing written outside, and the daemon serving.
/// </summary>
[Collection("Mount")]
public sealed class PlantedFileTests
{
    private const int EIO = 5, ELOOP = 40;
    private const string Secret = "SECRET-OUTSIDE";

    /// <summary>Runs each named operation in a forked child with a deadline; prints {name: errno | "timeout" | result}.</summary>
    private const string Runner = """
        import signal, time
        def run(f):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    v = f(); res = 0 if v is None else v
                except OSError as x:
                    res = x.errno
                except Exception as x:
                    res = repr(x)
                os.write(w, json.dumps(res).encode()); os._exit(0)
            os.close(w)
            deadline = time.time() + 10
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.time() > deadline:
                    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); os.close(r)
                    return 'timeout'
                time.sleep(0.02)
            data = os.read(r, 1 << 20); os.close(r)
            return json.loads(data)
        def read(p):
            return open(p, 'rb').read().decode(errors='replace')
        def append(p, line):
            fd = os.open(p, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, line.encode() + b'\n')
            finally:
                os.close(fd)
        """;

    private sealed record Case(string Context, string Planted, string Kind, string[] Ops);

    [Fact]
    public void PlantedSymlinksAndFifos_AtEveryStoreName_NeverFollowedNeverBlockingClearError()
    {
        using var m = MountedStore.Start();
        string outsideName = "outside-" + Guid.NewGuid().ToString("N");
        string outside = Path.Combine(m.Root, outsideName);   // from STORE/contexts/C: ../../../NAME; from MNT/C the same text leads nowhere
        MakeCanary(outside);

        // Contexts rotate every 2 entries (their own local.toml), so partitions and a manifest exist to plant over.
        var cases = new List<Case>();
        foreach (var kind in (string[])["link", "fifo"])
        {
            cases.Add(new($"transcript-{kind}", "transcript", kind, ["read", "append"]));
            cases.Add(new($"partitions-{kind}", "transcript/partitions", kind, ["read"]));
            cases.Add(new($"manifest-{kind}", "transcript/manifest.json", kind, ["read", "append"]));
            cases.Add(new($"partition-{kind}", "transcript/partitions/PARTITION", kind, ["read"]));
            cases.Add(new($"tlock-{kind}", "transcript/.transcript.lock", kind, ["append"]));
            cases.Add(new($"ilock-{kind}", ".inbox.lock", kind, ["inbox"]));
            cases.Add(new($"lock-{kind}", ".lock", kind, ["rename"]));
        }
        // A document planted as a link is shown as a link, which the kernel resolves from the mount
        // (HostileInputTests.PlantedSymlinks_*): the daemon never opens it. A FIFO it would.
        cases.Add(new("summary-fifo", "summary.md", "fifo", ["doc"]));
        foreach (var c in cases)
        {
            m.Ok($"mkdir {c.Context}");
            File.WriteAllText(m.StorePath("contexts", c.Context, "local.toml"), "[storage]\npartition_max_entries = 2\n");
        }
        Thread.Sleep(1100);   // a transcript re-reads its thresholds at most once a second (the anchor's append read them)
        foreach (var c in cases)
        {
            m.Ok(string.Join(" && ", Enumerable.Range(1, 3).Select(i => $"echo '{{\"content\":\"line {i}\"}}' >> {c.Context}/transcript.jsonl")));
        }
        foreach (var c in cases) Plant(m, c, outsideName);
        var before = Snapshot(outside);

        var ops = cases.SelectMany(c => c.Ops.Select(op => $"'{c.Context}/{op}': run(lambda: {Python(c.Context, op)})"));
        var r = RunOps(m, ops);

        foreach (var c in cases)
        {
            foreach (var op in c.Ops)
            {
                var result = r.GetProperty($"{c.Context}/{op}");
                string what = $"{c.Context}/{op} (planted {c.Kind} at {c.Planted}): {result}\ndaemon log:\n{m.Log}";
                Assert.True(result.ValueKind == JsonValueKind.Number && (result.GetInt32() == EIO || (c.Kind == "link" && result.GetInt32() == ELOOP)), what);
            }
            string named = c.Planted == "transcript/partitions/PARTITION" ? "/partitions/" : c.Planted;
            HostileInputTests.Logged(m, () => m.Log.Split('\n').Any(l =>
                l.StartsWith("vfsmount: refused", StringComparison.Ordinal) && l.Contains($"/contexts/{c.Context}/", StringComparison.Ordinal)
                && l.Contains(named, StringComparison.Ordinal)));
        }
        Assert.DoesNotContain(Secret, r.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(outside));
        AssertServing(m);
    }

    /// <summary>The store-wide names: state.json (mkdir updates it, the mount serves it) and config.toml (read for every context's policy).</summary>
    [Theory]
    [InlineData("link")]
    [InlineData("fifo")]
    public void PlantedStateAndConfig_NeverFollowedNeverBlockingClearError(string kind)
    {
        string outsideName = "outside-" + Guid.NewGuid().ToString("N");
        void PlantAt(string path)
        {
            File.Delete(path);
            if (kind == "link") File.CreateSymbolicLink(path, $"contexts/../../{outsideName}/{Path.GetFileName(path)}");   // from MNT: MNT/contexts/, which does not exist
            else Mkfifo(path);
        }
        // config.toml before the mount, so the first append reads it (thresholds are cached a second).
        using var m = MountedStore.Start(prepareStore: store => PlantAt(Path.Combine(store, "config.toml")));
        string outside = Path.Combine(m.Root, outsideName);
        MakeCanary(outside);
        m.Ok("mkdir a");
        PlantAt(m.StorePath("state.json"));
        var before = Snapshot(outside);

        var r = RunOps(m, [
            "'mkdir': run(lambda: os.mkdir('b'))",
            "'state': run(lambda: read('state.json'))",
            "'append': run(lambda: append('a/transcript.jsonl', '{\"content\":\"after config\"}'))",
        ]);

        string log = "\ndaemon log:\n" + m.Log;
        Assert.Equal(kind == "link" ? ELOOP : EIO, r.GetProperty("mkdir").GetInt32());
        Assert.False(Directory.Exists(m.StorePath("contexts", "b")), "mkdir made the context though state.json was refused" + log);
        if (kind == "fifo") Assert.Equal(EIO, r.GetProperty("state").GetInt32());
        else Assert.NotEqual(JsonValueKind.String, r.GetProperty("state").ValueKind);   // the kernel resolves the link from the mount: nothing there
        // config.toml only tunes rotation: unreadable, it is no settings (logged), and the append goes on.
        Assert.Equal(0, r.GetProperty("append").GetInt32());
        HostileInputTests.Logged(m, () => m.Log.Contains($"refused {m.StorePath("state.json")}", StringComparison.Ordinal)
                                          && m.Log.Contains($"refused {m.StorePath("config.toml")}", StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, r.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(outside));
        Assert.Equal("after config", LogView.Contents(LogView.CatLines(m, "a/transcript.jsonl"))[^1]);
    }

    /// <summary>A directory outside the store whose every file carries the canary, under each name a planted link may lead to.</summary>
    private static void MakeCanary(string outside)
    {
        Directory.CreateDirectory(Path.Combine(outside, "partitions"));
        string line = $"{{\"id\":\"x\",\"timestamp\":1,\"from\":\"x\",\"to\":\"x\",\"content\":\"{Secret}\",\"entry_type\":\"message\"}}\n";
        File.WriteAllText(Path.Combine(outside, "active.jsonl"), line);
        File.WriteAllText(Path.Combine(outside, "secret.txt"), Secret + "\n");
        File.WriteAllText(Path.Combine(outside, "state.json"), $"{{\"contexts\":[],\"note\":\"{Secret}\"}}");
        File.WriteAllText(Path.Combine(outside, "config.toml"), $"# {Secret}\n[storage]\npartition_max_entries = 1\n");
        File.WriteAllText(Path.Combine(outside, "manifest.json"),
            $"{{\"version\":1,\"active_partition\":\"active.jsonl\",\"partitions\":[{{\"file\":\"partitions/p.jsonl\",\"start_ts\":1,\"end_ts\":1,\"entry_count\":1}}],\"note\":\"{Secret}\"}}");
        File.WriteAllText(Path.Combine(outside, "partitions", "p.jsonl"), line);
    }

    /// <summary>Replaces the case's store name with a link to the canary's (relative: from MNT it leads nowhere) or a FIFO.</summary>
    private static void Plant(MountedStore m, Case c, string outsideName)
    {
        string ctx = m.StorePath("contexts", c.Context);
        string planted = c.Planted;
        if (planted.EndsWith("PARTITION", StringComparison.Ordinal))
            planted = "transcript/partitions/" + Path.GetFileName(Directory.GetFiles(Path.Combine(ctx, "transcript", "partitions"), "*.jsonl").First());
        string path = Path.Combine(ctx, planted);
        if (Directory.Exists(path) && !File.Exists(path)) Directory.Move(path, Path.Combine(m.Root, $"aside-{c.Context}"));
        else if (File.Exists(path)) File.Delete(path);
        string up = string.Concat(Enumerable.Repeat("../", planted.Count(ch => ch == '/') + 3));   // STORE/contexts/C/... back to m.Root
        string target = Path.GetFileName(planted) switch
        {
            "transcript" => $"{up}{outsideName}",
            "partitions" => $"{up}{outsideName}/partitions",
            var n when n.EndsWith(".jsonl", StringComparison.Ordinal) => $"{up}{outsideName}/partitions/p.jsonl",
            "manifest.json" => $"{up}{outsideName}/manifest.json",
            "summary.md" => $"{up}{outsideName}/secret.txt",
            var n => $"{up}{outsideName}/created-through-{n.TrimStart('.')}",   // locks: dangling, O_CREAT would make it
        };
        if (c.Kind == "link") File.CreateSymbolicLink(path, target);
        else Mkfifo(path);
    }

    private static string Python(string context, string op) => op switch
    {
        "read" => $"read('{context}/transcript.jsonl')",
        "append" => $"append('{context}/transcript.jsonl', '{{\"content\":\"planted\"}}')",
        "inbox" => $"append('{context}/inbox.jsonl', '{{\"content\":\"planted\"}}')",
        "rename" => $"os.rename('{context}', '{context}-renamed')",
        "doc" => $"read('{context}/summary.md')",
        _ => throw new ArgumentException(op),
    };

    private static JsonElement RunOps(MountedStore m, IEnumerable<string> ops)
    {
        var (exit, stdout, stderr) = m.Python(Runner + "\nprint(json.dumps({" + string.Join(",\n", ops) + "}))", 300);
        Assert.True(exit == 0, $"python failed ({exit}): {stderr}\ndaemon log:\n{m.Log}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        return doc.RootElement.Clone();
    }

    private static void AssertServing(MountedStore m)
    {
        Assert.False(m.Daemon.HasExited, "the daemon exited:\n" + m.Log);
        m.Ok("mkdir still-serving && echo '{\"content\":\"fine\"}' >> still-serving/transcript.jsonl");
        Assert.Equal("fine", LogView.Contents(LogView.CatLines(m, "still-serving/transcript.jsonl"))[^1]);
    }

    private static void Mkfifo(string path) => Assert.Equal(0, Shell.Run("mkfifo", [path], "/", 30).Exit);

    private static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(p => p, File.ReadAllText);
}

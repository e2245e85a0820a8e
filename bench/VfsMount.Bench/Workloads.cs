using System.Globalization;

namespace VfsMount.Bench;

/// <summary>
/// The workloads of issue 5. Each round runs every side with the same work; sides alternate
/// their order from round to round so a slow drift of the machine does not favour one.
/// </summary>
internal sealed class Workloads(Env env, Report report)
{
    private const double MiB = 1 << 20;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private Sizes S => env.Sizes;

    public void Run(string name)
    {
        switch (name)
        {
            case "append1": Appends(1, S.Appends1, false, new Target(Reference.Native, 0.85)); break;
            case "append8": Appends(8, S.Appends8PerWriter, false, new Target(Reference.Native, 0.85)); break;
            case "append8ctx": Appends(8, S.Appends8PerWriter, true, new Target(Reference.Native, 0.85)); break;
            case "read": ReadAndTail(); break;
            case "read2": SecondRead(); break;
            case "docs": DocumentSaves(); break;
            case "ls": Listing(); break;
            case "lswarm": WarmListing(); break;
            case "scratch": ScratchFiles(); break;
            case "rss": PeakMemory(); break;
            default: throw new BenchException($"unknown workload {name}");
        }
    }

    private static string I(long v) => v.ToString(Inv);

    private static void Progress(string text) => Console.Error.WriteLine($"bench: {text}");

    /// <summary>Runs each side once per round, in an order that alternates between rounds.</summary>
    private void Rounds(Action<int>[] sides)
    {
        for (int r = 0; r < env.Rounds; r++)
        {
            var order = r % 2 == 0 ? sides : sides.Reverse().ToArray();
            foreach (var side in order) side(r);
        }
    }

    /// <summary>user+system CPU seconds of a process so far.</summary>
    private static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(f[11], Inv) + long.Parse(f[12], Inv)) / 100.0;   // utime, stime in USER_HZ (100)
    }

    private static int CountLines(string path)
    {
        int n = 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) n += buffer.AsSpan(0, read).Count((byte)'\n');
        return n;
    }

    private static string Latency(WorkerResult r) =>
        $"p50 {r.Percentile(0.5) / 1000:F2} ms, p99 {r.Percentile(0.99) / 1000:F2} ms, max {r.LatenciesUs.Max() / 1000.0:F1} ms";

    // ---- durable appends -------------------------------------------------------------------

    /// <summary>
    /// fsync latency on a virtio disk drifts by 5× within a minute, so each round cuts the work
    /// into slices and alternates the sides slice by slice; a side's figure for the round is
    /// its operations over its summed slice times.
    /// </summary>
    private const int Slices = 5;

    private static void Interleaved(int round, Func<int, WorkerResult> native, Func<int, WorkerResult> mount,
        out WorkerResult nativeTotal, out WorkerResult mountTotal)
    {
        var n = new List<WorkerResult>();
        var m = new List<WorkerResult>();
        for (int slice = 0; slice < Slices; slice++)
        {
            if ((round + slice) % 2 == 0) { n.Add(native(slice)); m.Add(mount(slice)); }
            else { m.Add(mount(slice)); n.Add(native(slice)); }
        }
        nativeTotal = Sum(n);
        mountTotal = Sum(m);
    }

    private static WorkerResult Sum(List<WorkerResult> parts) =>
        new(parts.Sum(p => p.Seconds), parts.Sum(p => p.Operations), parts.Sum(p => p.Bytes), parts.SelectMany(p => p.LatenciesUs).ToList(), parts[0].Raw);

    /// <summary>
    /// Durable appends of ~200-byte complete entries by `writers` processes, all to one transcript
    /// or each to a context of its own (`ownContexts`). Native: flock on transcript/.transcript.lock,
    /// O_APPEND write, fsync, unlock, per line, on a plain file (one file and lock per context).
    /// Mount: O_APPEND write of the same line to CTX/transcript.jsonl (the daemon takes the same
    /// lock and fsyncs before write(2) returns). Fresh contexts and files per round.
    /// </summary>
    private void Appends(int writers, int perWriter, bool ownContexts, Target target)
    {
        string shape = writers == 1 ? "1 writer" : ownContexts ? $"{writers} writers to {writers} contexts (one each)" : $"{writers} writers to one transcript";
        var row = report.Add(new Row($"durable appends, {shape}, ~{S.LineBytes} B entries", "appends/s", true, target));
        var cpuRow = writers == 1
            ? report.Add(new Row("daemon CPU per durable append, 1 writer (user+sys from /proc/PID/stat)", "µs", false, new Target(Reference.Absolute, 40)))
            : null;
        string key = ownContexts ? $"{writers}ctx" : $"{writers}";
        string store = env.Dir($"store-append{key}"), mnt = env.Dir($"mnt-append{key}"), native = env.Dir($"native-append{key}");
        using var daemon = FuseDaemon.VfsMount(env, store, mnt);
        var mountLatency = new List<WorkerResult>();
        var nativeLatency = new List<WorkerResult>();
        var cpuPerAppend = new List<double>();
        int perSlice = Math.Max(1, perWriter / Slices);
        // Writer w of round r appends to context Ctx(r, w): r{r} shared, or r{r}w{w} of its own.
        string Ctx(int r, int w) => ownContexts ? $"r{r}w{w}" : $"r{r}";
        string[][] Args(int r, int slice, Func<string, string> targetOf, Func<string, string>? lockOf) =>
            Enumerable.Range(0, writers).Select(w => (string[])[
                "append", "--target", targetOf(Ctx(r, w)), "--count", I(perSlice), "--size", I(S.LineBytes), "--ctx", Ctx(r, w), "--wid", I(w + 100 * slice),
                .. lockOf is null ? Array.Empty<string>() : ["--lock", lockOf(Ctx(r, w)), "--fsync"]]).ToArray();

        for (int r = 0; r < env.Rounds; r++)
        {
            var contexts = Enumerable.Range(0, writers).Select(w => Ctx(r, w)).Distinct().ToList();
            try
            {
                foreach (var ctx in contexts)
                {
                    Directory.CreateDirectory(Path.Combine(native, ctx, "transcript"));
                    Directory.CreateDirectory(Path.Combine(mnt, ctx));   // mkdir: a context, as chibi creates it
                }
                // utime+stime are whole clock ticks (10 ms): read them around the round, not around
                // each slice, so the rounding is one tick per round; the daemon idles in the native slices.
                int round = r;
                double cpu0 = CpuSeconds(daemon.Pid);
                Interleaved(r,
                    slice => Workers.RunMany(env, Args(round, slice,
                        ctx => Path.Combine(native, ctx, "transcript", "active.jsonl"),
                        ctx => Path.Combine(native, ctx, "transcript", ".transcript.lock"))),
                    slice => Workers.RunMany(env, Args(round, slice, ctx => Path.Combine(mnt, ctx, "transcript.jsonl"), null)),
                    out var nat, out var mo);
                double cpu = CpuSeconds(daemon.Pid) - cpu0;
                row.Native.Add(nat.PerSecond);
                row.Mount.Add(mo.PerSecond);
                nativeLatency.Add(nat);
                mountLatency.Add(mo);
                cpuPerAppend.Add(cpu / mo.Operations);
                cpuRow?.Mount.Add(cpu / mo.Operations * 1e6);
                long expected = mo.Operations / contexts.Count;
                foreach (var ctx in contexts)
                {
                    int lines = CountLines(Path.Combine(mnt, ctx, "transcript.jsonl"));
                    if (lines != 1 + expected)
                        row.Notes.Add($"round {r + 1}: {ctx}/transcript.jsonl has {lines} lines, expected {1 + expected} (anchor + appends)");
                }
                Progress($"{row.Name} round {r + 1}: native {nat.PerSecond:F0}/s, mount {mo.PerSecond:F0}/s, daemon CPU {cpu / mo.Operations * 1e6:F0} µs/append");
            }
            catch (Exception e) when (e is BenchException or IOException)
            {
                row.Error ??= $"round {r + 1}: {e.Message}; daemon log: {Sys.Trim(daemon.Log, 600)}";
            }
        }
        string partitions = Path.Combine(store, "contexts", Ctx(0, 0), "transcript", "partitions");
        int rotations = Directory.Exists(partitions) ? Directory.GetFiles(partitions, "*.jsonl").Length : 0;
        row.Notes.Add($"{writers * perSlice * Slices} appends per round per side, in {Slices} slices alternating between the sides");
        if (writers > 1 && !ownContexts)
            row.Notes.Add("the kernel serialises O_APPEND writes to one inode (i_rwsem) on both sides, so one transcript cannot scale with writers");
        if (ownContexts)
            row.Notes.Add($"mount: writer w appends to context r{{round}}w{{w}}; native: each writer its own file under its own flock");
        row.Notes.Add("per-append latency, mount: " + string.Join("; ", mountLatency.Select(Latency)));
        row.Notes.Add("per-append latency, native: " + string.Join("; ", nativeLatency.Select(Latency)));
        if (cpuPerAppend.Count > 0)
            row.Notes.Add($"daemon CPU per append (user+sys): {string.Join(" / ", cpuPerAppend.Select(c => (c * 1e6).ToString("F0", Inv)))} µs; " +
                          $"rotations in a round of {Ctx(0, 0)}: {rotations} (chibi's default, 1000 entries; the native file never rotates)");
        cpuRow?.Notes.Add($"daemon utime+stime (/proc/PID/stat) over the round ÷ the mount's appends; ticks of 10 ms, so ±{0.01 / Math.Max(1, writers * perSlice * Slices) * 1e6:F0} µs; the writers' CPU is not included; " +
                            "round 1 also pays the JIT's first compilations of the append path");
    }

    // ---- sequential read of a big transcript, tail ---------------------------------------

    private const string Cat = "exec cat \"$@\" > /dev/null";

    private string Gib => S.ReadBytes >= 1L << 30 ? $"{S.ReadBytes / (1L << 30)} GiB" : $"{S.ReadBytes >> 20} MiB";

    private (string Store, string NativeDir, string Full, string[] Partitions, long Bytes)? _big;

    /// <summary>
    /// The store with context "big" (ReadBytes in Partitions archived partitions) and the native
    /// file of the same bytes, generated once per run for `read` and `read2`.
    /// </summary>
    private (string Store, string NativeDir, string Full, string[] Partitions, long Bytes) BigTranscript()
    {
        if (_big is { } big) return big;
        string store = env.Dir("store-read"), nativeDir = env.Dir("native-read"), full = Path.Combine(nativeDir, "full.jsonl");
        Directory.CreateDirectory(nativeDir);
        Progress($"generating a {Gib} transcript in {S.Partitions} partitions");
        StoreGen.BigTranscript(store, "big", S.ReadBytes, S.Partitions, full);
        var partitions = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(store, "contexts", "big", "transcript", "manifest.json")))
            .RootElement.GetProperty("partitions").EnumerateArray()
            .Select(p => Path.Combine(store, "contexts", "big", "transcript", p.GetProperty("file").GetString()!)).ToArray();
        Sys.Check("sync");
        _big = (store, nativeDir, full, partitions, new FileInfo(full).Length);
        return _big.Value;
    }

    /// <summary>
    /// A transcript of ReadBytes in Partitions archived partitions, read whole with cat right
    /// after mounting and dropping the caches: the mount's transcript.jsonl; natively, cat of the
    /// partition files in manifest order; bindfs, one file holding the same bytes. Then tail -n 10
    /// of the same file, cold (caches dropped again) and warm.
    /// </summary>
    private void ReadAndTail()
    {
        string gib = Gib;
        var read = report.Add(new Row($"sequential read, {gib} transcript in {S.Partitions} partitions, first read after mount",
            "MiB/s", true, new Target(Reference.Bindfs, 1.0)));
        var tailCold = report.Add(new Row("`tail -n 10` of that transcript, caches dropped", "ms", false, new Target(Reference.Native, 2.0)));
        var tailWarm = report.Add(new Row("`tail -n 10` of that transcript, warm (median of 10)", "ms", false, new Target(Reference.Native, 2.0)));
        var startup = report.Add(new Row($"mount start-up on that store (check --repair, until in mountinfo)", "s", false));

        var (store, nativeDir, full, partitions, bytes) = BigTranscript();
        const string Tail = "exec tail -n 10 \"$1\" > /dev/null";
        double spawn = Enumerable.Range(0, 10).Select(_ => Sys.TimeShell(Tail, "/dev/null")).Order().ElementAt(5);
        tailWarm.Notes.Add($"process start-up alone (sh + tail -n 10 /dev/null) takes {spawn * 1000:F2} ms of each figure");

        void Tails(Row cold, Row warm, List<double> coldSide, List<double> warmSide, string path)
        {
            Sys.DropCaches();
            coldSide.Add(Sys.TimeShell(Tail, path) * 1000);
            warmSide.Add(Enumerable.Range(0, 10).Select(_ => Sys.TimeShell(Tail, path) * 1000).Order().ElementAt(5));
        }

        Rounds([
            r =>
            {
                Sys.DropCaches();
                read.Native.Add(bytes / MiB / Sys.TimeShell(Cat, partitions));
                Tails(tailCold, tailWarm, tailCold.Native, tailWarm.Native, full);
                Progress($"read round {r + 1}: native {read.Native[^1]:F0} MiB/s, tail {tailCold.Native[^1]:F1} ms cold");
            },
            r =>
            {
                using var b = FuseDaemon.Bindfs(nativeDir, env.Dir("mnt-read-bindfs"));
                Sys.DropCaches();
                read.Bindfs.Add(bytes / MiB / Sys.TimeShell(Cat, Path.Combine(b.MountPoint, "full.jsonl")));
                Tails(tailCold, tailWarm, tailCold.Bindfs, tailWarm.Bindfs, Path.Combine(b.MountPoint, "full.jsonl"));
                Progress($"read round {r + 1}: bindfs {read.Bindfs[^1]:F0} MiB/s, tail {tailCold.Bindfs[^1]:F1} ms cold");
            },
            r =>
            {
                try
                {
                    using var m = FuseDaemon.VfsMount(env, store, env.Dir("mnt-read"));
                    startup.Mount.Add(m.StartSeconds);
                    string transcript = Path.Combine(m.MountPoint, "big", "transcript.jsonl");
                    Sys.DropCaches();
                    read.Mount.Add(bytes / MiB / Sys.TimeShell(Cat, transcript));
                    Tails(tailCold, tailWarm, tailCold.Mount, tailWarm.Mount, transcript);
                    Progress($"read round {r + 1}: mount {read.Mount[^1]:F0} MiB/s, tail {tailCold.Mount[^1]:F1} ms cold, start {m.StartSeconds:F1} s");
                    if (r == 0) VerifySameBytes(read, transcript, full, bytes);
                    if (m.Log.Contains("recovery", StringComparison.Ordinal)) read.Notes.Add($"daemon log: {Sys.Trim(m.Log, 600)}");
                }
                catch (Exception e) when (e is BenchException or IOException)
                {
                    read.Error ??= e.Message;
                }
            },
        ]);
    }

    /// <summary>
    /// The same transcript read twice in a row with cat after dropping the caches; the second read
    /// is timed (served from the page cache where the side keeps it). Native: the partition files
    /// twice; bindfs (for reference): its one file twice; mount: transcript.jsonl twice on a fresh mount.
    /// </summary>
    private void SecondRead()
    {
        var read2 = report.Add(new Row($"sequential read, {Gib} transcript, second read (page cache)", "MiB/s", true, new Target(Reference.Native, 0.8)));
        var (store, nativeDir, full, partitions, bytes) = BigTranscript();
        var first = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        string memory = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemAvailable", StringComparison.Ordinal));

        double Twice(string side, string[] files)
        {
            Sys.DropCaches();
            double once = Sys.TimeShell(Cat, files);
            double twice = Sys.TimeShell(Cat, files);
            if (!first.TryGetValue(side, out var list)) first[side] = list = [];
            list.Add((bytes / MiB / once).ToString("F0", Inv));
            return bytes / MiB / twice;
        }

        Rounds([
            r =>
            {
                read2.Native.Add(Twice("native", partitions));
                Progress($"read2 round {r + 1}: native {read2.Native[^1]:F0} MiB/s");
            },
            r =>
            {
                using var b = FuseDaemon.Bindfs(nativeDir, env.Dir("mnt-read2-bindfs"));
                read2.Bindfs.Add(Twice("bindfs", [Path.Combine(b.MountPoint, "full.jsonl")]));
                Progress($"read2 round {r + 1}: bindfs {read2.Bindfs[^1]:F0} MiB/s");
            },
            r =>
            {
                try
                {
                    using var m = FuseDaemon.VfsMount(env, store, env.Dir("mnt-read2"));
                    read2.Mount.Add(Twice("mount", [Path.Combine(m.MountPoint, "big", "transcript.jsonl")]));
                    Progress($"read2 round {r + 1}: mount {read2.Mount[^1]:F0} MiB/s");
                }
                catch (Exception e) when (e is BenchException or IOException)
                {
                    read2.Error ??= e.Message;
                }
            },
        ]);
        read2.Notes.Add($"the untimed first reads before them per round, MiB/s: {string.Join("; ", first.Select(f => $"{f.Key} {string.Join(" / ", f.Value)}"))}");
        read2.Notes.Add($"page cache needs {bytes / MiB:F0} MiB free: {memory} before this row's rounds");
    }

    /// <summary>The mount must serve exactly the native bytes (checked once, outside the timing).</summary>
    private static void VerifySameBytes(Row row, string mounted, string native, long bytes)
    {
        long size = new FileInfo(mounted).Length;
        var cmp = Sys.Run("cmp", [mounted, native]);
        var tails = (Sys.Check("tail", "-n", "10", mounted), Sys.Check("tail", "-n", "10", native));
        row.Notes.Add(size == bytes && cmp.Code == 0 && tails.Item1 == tails.Item2
            ? $"checked: the mount's transcript.jsonl is {bytes} bytes, identical to the native concatenation (cmp, tail)"
            : $"MISMATCH: the mount's transcript.jsonl is {size} bytes (native {bytes}); cmp: {cmp.Out.Trim()} {cmp.Err.Trim()}; tails equal: {tails.Item1 == tails.Item2}");
    }

    // ---- document saves ---------------------------------------------------------------------

    /// <summary>
    /// Saves of a 1 MiB summary.md. Mount: open O_TRUNC, write, close (the daemon validates,
    /// fsyncs, renames and fsyncs the directory before close returns). Native: temp file beside
    /// it, write, fsync, rename, directory fsync. Slices alternate between the sides.
    /// </summary>
    private void DocumentSaves()
    {
        var row = report.Add(new Row($"document save, {S.SaveBytes >> 20} MiB summary.md × {S.Saves}", "saves/s", true, new Target(Reference.Native, 0.75)));
        string store = env.Dir("store-docs"), mnt = env.Dir("mnt-docs"), native = env.Dir("native-docs");
        using var daemon = FuseDaemon.VfsMount(env, store, mnt);
        var cpu = new List<double>();
        var lat = new List<WorkerResult>();
        var nlat = new List<WorkerResult>();
        int perSlice = Math.Max(1, S.Saves / Slices);
        for (int r = 0; r < env.Rounds; r++)
        {
            try
            {
                string ndir = Path.Combine(native, $"d{r}"), mdir = Path.Combine(mnt, $"d{r}");
                Directory.CreateDirectory(ndir);
                Directory.CreateDirectory(mdir);
                string doc = Path.Combine(mdir, "summary.md");
                double cpuSum = 0;
                Interleaved(r,
                    slice => Workers.RunOne(env, "docsave", "--target", Path.Combine(ndir, "summary.md"), "--side", "native",
                        "--count", I(perSlice), "--size", I(S.SaveBytes)),
                    slice =>
                    {
                        double cpu0 = CpuSeconds(daemon.Pid);
                        var res = Workers.RunOne(env, "docsave", "--target", doc, "--side", "mount", "--count", I(perSlice), "--size", I(S.SaveBytes));
                        cpuSum += CpuSeconds(daemon.Pid) - cpu0;
                        return res;
                    },
                    out var nat, out var mo);
                row.Native.Add(nat.PerSecond);
                row.Mount.Add(mo.PerSecond);
                lat.Add(mo);
                nlat.Add(nat);
                cpu.Add(cpuSum / mo.Operations);
                using (var f = File.OpenRead(doc))
                {
                    var head = new byte[14];
                    f.ReadExactly(head);
                    string expect = $"save {perSlice - 1:D8}\n";
                    if (f.Length != S.SaveBytes || System.Text.Encoding.ASCII.GetString(head, 0, expect.Length) != expect)
                        row.Notes.Add($"round {r + 1}: summary.md after the saves is {f.Length} bytes starting {System.Text.Encoding.ASCII.GetString(head)}");
                }
                Progress($"docs round {r + 1}: native {nat.PerSecond:F1}/s, mount {mo.PerSecond:F1}/s");
            }
            catch (Exception e) when (e is BenchException or IOException)
            {
                row.Error ??= $"round {r + 1}: {e.Message}; daemon log: {Sys.Trim(daemon.Log, 600)}";
            }
        }
        row.Notes.Add($"{perSlice * Slices} saves per round per side, in {Slices} slices alternating between the sides");
        if (lat.Count > 0) row.Notes.Add("per-save latency, mount: " + string.Join("; ", lat.Select(Latency)));
        if (nlat.Count > 0) row.Notes.Add("per-save latency, native: " + string.Join("; ", nlat.Select(Latency)));
        if (cpu.Count > 0) row.Notes.Add($"daemon CPU per save: {string.Join(" / ", cpu.Select(c => (c * 1e3).ToString("F1", Inv)))} ms");
    }

    // ---- ls -lR / stat of many contexts --------------------------------------------------

    private const string Ls = "exec ls -lR \"$1\" > /dev/null";
    private const string Stat = "exec stat --format=%s \"$@\" > /dev/null";

    private (string Store, List<string> Names)? _contexts;

    /// <summary>The store of Contexts small contexts, generated once per run for `ls` and `lswarm`.</summary>
    private (string Store, List<string> Names) ContextsStore()
    {
        if (_contexts is { } c) return c;
        string store = env.Dir("store-ctx");
        Progress($"generating {S.Contexts} contexts");
        var names = StoreGen.ManyContexts(store, S.Contexts);
        Sys.TimeShell(Ls, Path.Combine(store, "contexts"));   // warm the store's own pages and dentries for every side
        _contexts = (store, names);
        return _contexts.Value;
    }

    /// <summary>
    /// What `stat` is given under a root: each context directory and its transcript file
    /// (MNT/c*/transcript.jsonl; on the store, contexts/c*/transcript/active.jsonl).
    /// </summary>
    private static string[] StatPaths(List<string> names, string root, string transcript) =>
        names.SelectMany(c => new[] { Path.Combine(root, c), Path.Combine(root, c, transcript) }).ToArray();

    /// <summary>
    /// `ls -lR` and `stat` over a store of Contexts small contexts, each time on a fresh mount
    /// (so no side starts with the kernel's attribute cache filled). bindfs and passthrough_ll are
    /// over the same store; natively the store itself is listed (its pages warm for every side).
    /// </summary>
    private void Listing()
    {
        int n = S.Contexts;
        Target[] targets = [new(Reference.Bindfs, 1.0), new(Reference.Passthrough, 1.0)];
        var ls = report.Add(new Row($"`ls -lR` of {n} contexts, first after mount", "contexts/s", true, targets));
        var st = report.Add(new Row($"`stat` of {n} context dirs + their transcripts, first after mount", "contexts/s", true, targets));
        var (store, names) = ContextsStore();
        string contexts = Path.Combine(store, "contexts");
        string mntB = env.Dir("mnt-ctx-bindfs"), mntP = env.Dir("mnt-ctx-pll"), mntM = env.Dir("mnt-ctx");

        // A C peer over the store: ls -lR on a fresh mount, then stat on another fresh mount.
        void Peer(int r, string name, Func<FuseDaemon> mount, List<double> lsSide, List<double> statSide, string mnt)
        {
            using (mount())
            {
                lsSide.Add(n / Sys.TimeShell(Ls, Path.Combine(mnt, "contexts")));
                if (r == 0) ls.Notes.Add($"lines of ls -lR output: {name} {LsLines(Path.Combine(mnt, "contexts"))}");
            }
            using (mount()) statSide.Add(n / Sys.TimeShell(Stat, StatPaths(names, Path.Combine(mnt, "contexts"), "transcript/active.jsonl")));
        }

        Rounds([
            r =>
            {
                ls.Native.Add(n / Sys.TimeShell(Ls, contexts));
                st.Native.Add(n / Sys.TimeShell(Stat, StatPaths(names, contexts, "transcript/active.jsonl")));
                if (r == 0) ls.Notes.Add($"lines of ls -lR output: native {LsLines(contexts)}");
            },
            r => Peer(r, "bindfs", () => FuseDaemon.Bindfs(store, mntB), ls.Bindfs, st.Bindfs, mntB),
            r => Peer(r, "passthrough_ll", () => FuseDaemon.PassthroughLl(env, store, mntP), ls.Passthrough, st.Passthrough, mntP),
            r =>
            {
                try
                {
                    using (var m = FuseDaemon.VfsMount(env, store, mntM))
                    {
                        ls.Mount.Add(n / Sys.TimeShell(Ls, mntM));
                        if (r == 0) ls.Notes.Add($"lines of ls -lR output through the mount: {LsLines(mntM)} (the view lists logs, documents and transcript/ per context)");
                    }
                    using (var m = FuseDaemon.VfsMount(env, store, mntM)) st.Mount.Add(n / Sys.TimeShell(Stat, StatPaths(names, mntM, "transcript.jsonl")));
                    Progress($"ls round {r + 1}: mount ls {ls.Mount[^1]:F0}/s, stat {st.Mount[^1]:F0}/s; bindfs ls {ls.Bindfs.LastOrDefault():F0}/s, " +
                             $"stat {st.Bindfs.LastOrDefault():F0}/s; passthrough_ll ls {ls.Passthrough.LastOrDefault():F0}/s, stat {st.Passthrough.LastOrDefault():F0}/s");
                }
                catch (Exception e) when (e is BenchException or IOException)
                {
                    ls.Error ??= e.Message;
                }
            },
        ]);
        st.Notes.Add("mount: stat MNT/c*/ and MNT/c*/transcript.jsonl; the others: contexts/c*/ and contexts/c*/transcript/active.jsonl");
    }

    /// <summary>
    /// The same `ls -lR` and `stat` warm: on one mount per side and round, each command runs once
    /// untimed and at once again, timed, within the 1 s entry/attribute timeout of the mount and of
    /// passthrough_ll (bindfs: libfuse's high-level default, also 1 s). Natively: the second of two runs.
    /// </summary>
    private void WarmListing()
    {
        int n = S.Contexts;
        var ls = report.Add(new Row($"`ls -lR` of {n} contexts, warm (second run at once, same mount)", "contexts/s", true, new Target(Reference.Native, 0.5)));
        var st = report.Add(new Row($"`stat` of {n} context dirs + their transcripts, warm (second run at once)", "contexts/s", true, new Target(Reference.Native, 0.5)));
        var (store, names) = ContextsStore();
        string contexts = Path.Combine(store, "contexts");
        var fills = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);

        // Runs `script` twice back to back; returns contexts/s of the second run.
        double Warm(string side, string script, string[] args)
        {
            double fill = Sys.TimeShell(script, args);
            double timed = Sys.TimeShell(script, args);
            if (!fills.TryGetValue(side, out var list)) fills[side] = list = [];
            list.Add($"{fill * 1000:F0}+{timed * 1000:F0}");
            return n / timed;
        }

        void Side(string side, Func<FuseDaemon>? mount, string root, string transcript, List<double> lsSide, List<double> statSide)
        {
            using (mount?.Invoke()) lsSide.Add(Warm(side + " ls", Ls, [root]));
            using (mount?.Invoke()) statSide.Add(Warm(side + " stat", Stat, StatPaths(names, root, transcript)));
        }

        string mntB = env.Dir("mnt-ctx-bindfs"), mntP = env.Dir("mnt-ctx-pll"), mntM = env.Dir("mnt-ctx");
        Rounds([
            r => Side("native", null, contexts, "transcript/active.jsonl", ls.Native, st.Native),
            r => Side("bindfs", () => FuseDaemon.Bindfs(store, mntB), Path.Combine(mntB, "contexts"), "transcript/active.jsonl", ls.Bindfs, st.Bindfs),
            r => Side("passthrough_ll", () => FuseDaemon.PassthroughLl(env, store, mntP), Path.Combine(mntP, "contexts"), "transcript/active.jsonl", ls.Passthrough, st.Passthrough),
            r =>
            {
                try
                {
                    Side("mount", () => FuseDaemon.VfsMount(env, store, mntM), mntM, "transcript.jsonl", ls.Mount, st.Mount);
                    Progress($"lswarm round {r + 1}: mount ls {ls.Mount[^1]:F0}/s, stat {st.Mount[^1]:F0}/s; native ls {ls.Native.LastOrDefault():F0}/s, stat {st.Native.LastOrDefault():F0}/s");
                }
                catch (Exception e) when (e is BenchException or IOException)
                {
                    ls.Error ??= e.Message;
                }
            },
        ]);
        ls.Notes.Add("untimed fill + timed run per round, ms (a fill over 1 s lets its first entries expire before the timed run): " +
                     string.Join("; ", fills.Select(f => $"{f.Key} {string.Join(", ", f.Value)}")));
    }

    /// <summary>
    /// ScratchFiles files in one scratch directory of a context (CTX/scratch/), on one mount per
    /// side and round, in order: create them (workers.py: open O_CREAT|O_EXCL, close), `ls -l`,
    /// `stat` of each, `rm -r` of the directory. Native, bindfs and passthrough_ll do the same in a
    /// plain directory of the same kind (a context's directory, not through the view).
    /// </summary>
    private void ScratchFiles()
    {
        int n = S.ScratchFiles;
        string count = n.ToString("N0", Inv);
        Target target = new(Reference.Passthrough, 1.0);
        var create = report.Add(new Row($"create {count} scratch files in CTX/scratch/", "files/s", true, target));
        var list = report.Add(new Row($"`ls -l` of those {count} scratch files", "files/s", true, target));
        var stat = report.Add(new Row($"`stat` of those {count} scratch files", "files/s", true, target));
        var remove = report.Add(new Row($"`rm -r` of CTX/scratch/ with those {count} files", "files/s", true, target));
        string store = env.Dir("store-scratch"), native = env.Dir("native-scratch");
        Directory.CreateDirectory(Path.Combine(native, "contexts"));
        string mntB = env.Dir("mnt-scratch-bindfs"), mntP = env.Dir("mnt-scratch-pll"), mntM = env.Dir("mnt-scratch");
        const string ListScript = "cd \"$1\" && exec ls -l > /dev/null";
        const string StatScript = "cd \"$1\" && shift && exec stat --format=%s -- \"$@\" > /dev/null";
        const string RmScript = "exec rm -r \"$1\"";
        string[] files = Enumerable.Range(0, n).Select(i => $"f{i:D6}").ToArray();   // what mkfiles creates
        var listed = new List<string>();

        // One side's four steps in `dir` (CTX/scratch, created here, removed by the last step).
        // Checks outside the timing: after ls -l, how many names a plain readdir returns.
        void Steps(string side, string dir, List<double> c, List<double> l, List<double> s, List<double> rm)
        {
            Directory.CreateDirectory(dir);
            var made = Workers.RunOne(env, "mkfiles", "--target", dir, "--count", I(n));
            c.Add(made.PerSecond);
            l.Add(n / Sys.TimeShell(ListScript, dir));
            int names = Directory.EnumerateFileSystemEntries(dir).Count();
            if (names != n) listed.Add($"{side}: a plain readdir (no stat) lists {names} of {n} names");
            s.Add(n / Sys.TimeShell(StatScript, [dir, .. files]));
            var r = Sys.Run("/bin/sh", ["-c", RmScript, "sh", dir]);
            if (r.Code == 0) rm.Add(n / r.Seconds);
            else
            {
                remove.Error ??= $"{side}: rm -r left the directory (see the notes)";
                remove.Notes.Add($"{side}: rm -r failed ({Sys.Trim(r.Err, 200)}); {(Directory.Exists(dir) ? Directory.EnumerateFileSystemEntries(dir).Count() : 0)} names still listed; no figure");
                foreach (var f in files) File.Delete(Path.Combine(dir, f));   // by name, so the next round starts clean
                Directory.Delete(dir);
            }
        }

        // A plain context directory for the native side and the C peers: contexts/r{round}/.
        string Plain(int r)
        {
            string ctx = Path.Combine(native, "contexts", $"r{r}");
            Directory.CreateDirectory(ctx);
            return ctx;
        }

        Rounds([
            r => Steps("native", Path.Combine(Plain(r), "scratch"), create.Native, list.Native, stat.Native, remove.Native),
            r =>
            {
                Plain(r);
                using var b = FuseDaemon.Bindfs(native, mntB);
                Steps("bindfs", Path.Combine(mntB, "contexts", $"r{r}", "scratch"), create.Bindfs, list.Bindfs, stat.Bindfs, remove.Bindfs);
            },
            r =>
            {
                Plain(r);
                using var p = FuseDaemon.PassthroughLl(env, native, mntP);
                Steps("passthrough_ll", Path.Combine(mntP, "contexts", $"r{r}", "scratch"), create.Passthrough, list.Passthrough, stat.Passthrough, remove.Passthrough);
            },
            r =>
            {
                try
                {
                    using var m = FuseDaemon.VfsMount(env, store, mntM);
                    Directory.CreateDirectory(Path.Combine(mntM, $"r{r}"));   // a context
                    Steps("mount", Path.Combine(mntM, $"r{r}", "scratch"), create.Mount, list.Mount, stat.Mount, remove.Mount);
                    Progress($"scratch round {r + 1}: mount create {create.Mount.LastOrDefault():F0}/s, ls -l {list.Mount.LastOrDefault():F0}/s, stat {stat.Mount.LastOrDefault():F0}/s, rm {remove.Mount.LastOrDefault():F0}/s; " +
                             $"passthrough_ll {create.Passthrough.LastOrDefault():F0}, {list.Passthrough.LastOrDefault():F0}, {stat.Passthrough.LastOrDefault():F0}, {remove.Passthrough.LastOrDefault():F0}");
                }
                catch (Exception e) when (e is BenchException or IOException)
                {
                    create.Error ??= e.Message;
                }
            },
        ]);
        create.Notes.Add("one mount per side and round; the four steps run in order on it, each right after the previous one (ls -l and stat find the entries the creates left in the kernel's cache, if still within the timeout)");
        stat.Notes.Add("`cd DIR && stat --format=%s -- f000000 …` with every name on the command line (no readdir)");
        list.Notes.AddRange(listed.Count > 0 ? listed.Distinct() : [$"checked: a plain readdir lists all {n} names on every side"]);
    }

    private static int LsLines(string path) => Sys.Check("ls", "-lR", path).Split('\n').Length - 1;

    // ---- daemon memory ------------------------------------------------------------------

    /// <summary>
    /// Peak RSS (VmHWM) of a fresh daemon after writing RssDocBytes through document handles
    /// (summary.md first; if the mount refuses a document past its size limit, the rest goes
    /// to the next document) and RssAppendBytes of transcript appends in 1 MiB entries.
    /// </summary>
    private void PeakMemory()
    {
        string doc = S.RssDocBytes >= 1L << 30 ? $"{S.RssDocBytes >> 30} GiB" : $"{S.RssDocBytes >> 20} MiB";
        string app = S.RssAppendBytes >= 1L << 30 ? $"{S.RssAppendBytes >> 30} GiB" : $"{S.RssAppendBytes >> 20} MiB";
        var row = report.Add(new Row($"daemon peak RSS, writing a {doc} document, then {app} of appends in {S.RssLineBytes >> 10} KiB entries", "MiB", false, new Target(Reference.Absolute, 150)));
        string[] documents = ["summary.md", "todos.md", "goals.md", "reflection.md", "system_prompt.md"];
        for (int r = 0; r < env.Rounds; r++)
        {
            string store = env.Dir($"store-rss{r}"), mnt = env.Dir("mnt-rss");
            try
            {
                using var daemon = FuseDaemon.VfsMount(env, store, mnt);
                Directory.CreateDirectory(Path.Combine(mnt, "mem"));
                long start = Sys.ReadStatusKb(daemon.Pid, "VmHWM");
                long remaining = S.RssDocBytes;
                var parts = new List<string>();
                double docSeconds = 0;
                for (int d = 0; d < documents.Length && remaining > 0; d++)
                {
                    var res = Workers.RunOne(env, "bigwrite", "--target", Path.Combine(mnt, "mem", documents[d]), "--size", I(remaining));
                    long written = res.Raw.GetProperty("written").GetInt64();
                    string? err = res.Raw.GetProperty("errno").GetString(), closeErr = res.Raw.GetProperty("close_errno").GetString();
                    docSeconds += res.Seconds;
                    parts.Add($"{documents[d]} {written / MiB:F0} MiB{(err is null ? "" : $" then write {err}")}{(closeErr is null ? "" : $", close {closeErr}")}");
                    remaining -= written;
                    if (err is null || written == 0) break;
                }
                long afterDoc = Sys.ReadStatusKb(daemon.Pid, "VmHWM");
                int count = (int)(S.RssAppendBytes / S.RssLineBytes);
                var app1 = Workers.RunOne(env, "append", "--target", Path.Combine(mnt, "mem", "transcript.jsonl"), "--count", I(count),
                    "--size", I(S.RssLineBytes), "--ctx", "mem");
                long peak = Sys.ReadStatusKb(daemon.Pid, "VmHWM");
                long rss = Sys.ReadStatusKb(daemon.Pid, "VmRSS");
                string parts2 = Path.Combine(store, "contexts", "mem", "transcript", "partitions");
                int rotations = Directory.Exists(parts2) ? Directory.GetFiles(parts2, "*.jsonl").Length : 0;
                if (r == 0) row.Notes.Add($"{count} appends of {S.RssLineBytes >> 10} KiB made {rotations} rotations (each entry is over chibi's 100 000-token threshold)");
                row.Mount.Add(peak / 1024.0);
                if (r == 0 || remaining > 0)
                    row.Notes.Add($"round {r + 1}: documents: {string.Join("; ", parts)}{(remaining > 0 ? $"; {remaining / MiB:F0} MiB NOT written" : "")}");
                row.Notes.Add($"round {r + 1}: VmHWM {start / 1024.0:F0} MiB after mount+mkdir, {afterDoc / 1024.0:F0} MiB after the documents, " +
                              $"{peak / 1024.0:F0} MiB after the appends (VmRSS then {rss / 1024.0:F0} MiB); documents {S.RssDocBytes / MiB / docSeconds:F0} MiB/s, " +
                              $"appends {app1.Bytes / MiB / app1.Seconds:F1} MiB/s ({app1.PerSecond:F1} × {S.RssLineBytes >> 10} KiB entries/s)");
                Progress($"rss round {r + 1}: peak {peak / 1024.0:F0} MiB ({string.Join("; ", parts)})");
            }
            catch (Exception e) when (e is BenchException or IOException)
            {
                row.Error ??= $"round {r + 1}: {e.Message}";
            }
            finally
            {
                env.UnmountAll();
                env.Remove(store);
            }
        }
    }
}

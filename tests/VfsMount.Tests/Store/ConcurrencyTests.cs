using System.Diagnostics;
using System.Text.Json.Nodes;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>
/// Several OS processes append through the store at once (each rotating every 7 entries) while
/// a chibi-like writer appends under the same flock: every line lands once, whole, in order.
/// </summary>
public sealed class ConcurrencyTests : IDisposable
{
    private const string Ctx = "shared";
    private const int Processes = 4;
    private const int LinesEach = 40;
    private const int ForeignLines = 40;
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Append_FourProcessesAndChibiWriter_EveryLineOnceInOrder()
    {
        _dir.Open().CreateContext(Ctx);
        string tdir = _dir.TranscriptDir(Ctx);

        var children = new List<(Process Process, Task<CliResult> Done)>();
        for (int k = 0; k < Processes; k++)
        {
            var p = Cli.Start(["append", "--store", _dir.Root, Ctx, "--partition-max-entries", "7"]);
            string input = string.Concat(Enumerable.Range(0, LinesEach).Select(i => $"{{\"content\":\"w{k}-{i}\"}}\n"));
            children.Add((p, Task.Run(() => Cli.Finish(p, input, timeoutSeconds: 25))));
        }
        // chibi's own append, interleaved with the children's appends and rotations: it keeps
        // writing until every child has finished.
        var foreign = Task.Run(() =>
        {
            int i = 0;
            for (; i < ForeignLines || (children.Any(c => !c.Done.IsCompleted) && i < 5000); i++)
            {
                ChibiWriter.Append(tdir, ChibiWriter.Entry(Ctx, $"f-{i}", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
                Thread.Sleep(2);
            }
            return i;
        });
        int foreignLines = await foreign.WaitAsync(TimeSpan.FromSeconds(25));
        foreach (var (p, done) in children)
        {
            var r = await done;
            Assert.True(r.ExitCode == 0, r.ToString());
            p.Dispose();
        }

        // Every line exactly once, whole, in each writer's order.
        byte[] all = Disk.ReadAll(_dir.Open().Transcript(Ctx));
        Assert.Equal(Disk.Concatenation(tdir), all);
        var entries = Disk.Entries(all);
        Assert.Equal(1 + Processes * LinesEach + foreignLines, entries.Count);
        Assert.Equal("Context created", entries[0]["content"]!.GetValue<string>());
        var byWriter = entries.Skip(1).Select(e => e["content"]!.GetValue<string>())
            .GroupBy(c => c.Split('-')[0])
            .ToDictionary(g => g.Key, g => g.Select(c => int.Parse(c.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList());
        for (int k = 0; k < Processes; k++) Assert.Equal(Enumerable.Range(0, LinesEach), byWriter[$"w{k}"]);
        Assert.Equal(Enumerable.Range(0, foreignLines), byWriter["f"]);
        // The writers really overlapped: some chibi line sits between lines of the children.
        var order = entries.Skip(1).Select(e => e["content"]!.GetValue<string>()[0]).ToList();
        int firstChild = order.IndexOf('w'), lastChild = order.LastIndexOf('w');
        Assert.Contains('f', order.GetRange(firstChild, lastChild - firstChild + 1));
        foreach (var e in entries)   // the store's own lines also carry the role it completed (SPEC §2.1)
            Assert.Equal(e.ContainsKey("role") ? ["id", "timestamp", "from", "to", "content", "entry_type", "role"] : ["id", "timestamp", "from", "to", "content", "entry_type"],
                e.Select(kv => kv.Key));

        // The manifest agrees with the partition files.
        var manifest = Disk.Manifest(tdir);
        var records = manifest["partitions"]!.AsArray().Select(r => r!.AsObject()).ToList();
        Assert.True(records.Count >= (Processes * LinesEach) / 7 / 2, $"only {records.Count} rotations");
        var files = records.Select(r => r["file"]!.GetValue<string>()).ToList();
        Assert.Equal(files.Count, files.Distinct().Count());
        Assert.Equal(files.Order(StringComparer.Ordinal),
            Directory.GetFiles(Path.Combine(tdir, "partitions"), "*.jsonl").Select(f => "partitions/" + Path.GetFileName(f)).Order(StringComparer.Ordinal));
        long inPartitions = 0;
        foreach (var r in records)
        {
            var lines = Disk.Entries(File.ReadAllBytes(Path.Combine(tdir, r["file"]!.GetValue<string>())));
            Assert.Equal(lines.Count, r["entry_count"]!.GetValue<long>());
            Assert.True(lines.Count >= 7, $"{r["file"]} rotated with {lines.Count} entries");
            Assert.Equal(lines[0]["timestamp"]!.GetValue<ulong>(), r["start_ts"]!.GetValue<ulong>());
            Assert.Equal(lines[^1]["timestamp"]!.GetValue<ulong>(), r["end_ts"]!.GetValue<ulong>());
            Assert.True(File.Exists(Path.Combine(tdir, r["bloom_file"]!.GetValue<string>())));
            var bloom = BloomFilter.FromJson(File.ReadAllBytes(Path.Combine(tdir, r["bloom_file"]!.GetValue<string>())));
            foreach (var l in lines)
                foreach (var term in BloomFilter.Terms(l["content"]!.GetValue<string>()))
                    Assert.True(bloom.MightContain(term));
            inPartitions += lines.Count;
        }
        string active = Path.Combine(tdir, "active.jsonl");
        long inActive = File.Exists(active) ? Disk.Entries(File.ReadAllBytes(active)).Count : 0;
        Assert.Equal(entries.Count, inPartitions + inActive);
        Assert.Equal(7, manifest["rotation_policy"]!["max_entries"]!.GetValue<long>());

        var check = Cli.Check(_dir.Root);
        Assert.True(check.ExitCode == 0, check.ToString());
    }

    [Fact]
    public void Append_ThreadsInOneProcess_EveryLineOnce()
    {
        var store = _dir.Open(new StorageOptions(MaxEntries: 5));
        store.CreateContext(Ctx);
        Parallel.For(0, 8, k =>
        {
            var log = store.Transcript(Ctx);
            for (int i = 0; i < 25; i++)
                log.Append([VfsMount.Store.Json.EntryCompleter.Transcript(
                    System.Text.Encoding.UTF8.GetBytes(new JsonObject { ["content"] = $"t{k}-{i}" }.ToJsonString()), Ctx, "alice", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds())]);
        });
        var contents = Disk.Contents(Disk.ReadAll(store.Transcript(Ctx))).Skip(1).ToList();
        Assert.Equal(200, contents.Count);
        for (int k = 0; k < 8; k++)
            Assert.Equal(Enumerable.Range(0, 25).Select(i => $"t{k}-{i}"), contents.Where(c => c.StartsWith($"t{k}-", StringComparison.Ordinal)));
    }
}

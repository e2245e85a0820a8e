using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VfsMount.Tests.Mount;
using Xunit.Abstractions;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §2.1 "Locking" and "Rotation" under load: sixteen writers through the mount and two
/// chibi-like writers straight into the store (chibi's flock, two writes, fsync) for a bounded
/// time, with a small rotation threshold so the mount rotates under them all the while.
/// </summary>
[Collection("Mount")]
public sealed class LoadTests(ITestOutputHelper output)
{
    private const int MountWriters = 16;
    private const int ChibiWriters = 2;
    private const int MaxLines = 300;
    private const int Seconds = 10;

    [Fact]
    public void SixteenMountWritersTwoChibiWriters_BoundedTime_EveryLineOnceInOrderManifestMatchesPartitions()
    {
        using var m = MountedStore.Start("--partition-max-entries 50");
        m.Ok("mkdir c");
        var clock = Stopwatch.StartNew();
        var writers = new List<(string Prefix, Background Process)>();
        try
        {
            for (int k = 0; k < MountWriters; k++)
                writers.Add(($"m{k}", CrashSupport.Python(m, MountWriter($"m{k}", hold: k % 2 == 0, batch: 1 + k % 3))));
            for (int k = 0; k < ChibiWriters; k++)
                writers.Add(($"chibi{k}", CrashSupport.Python(m, LogView.ChibiWriter("c", $"chibi{k}", MaxLines, Seconds))));

            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (prefix, p) in writers)
            {
                Assert.True(p.Exited(TimeSpan.FromSeconds(90)), $"writer {prefix} did not finish: {p.Out}{p.Err}\n{m.Log}");
                Assert.True(p.Process.ExitCode == 0, $"writer {prefix} failed: {p.Out}{p.Err}\n{m.Log}");
                counts[prefix] = int.Parse(p.Out.Trim(), CultureInfo.InvariantCulture);
            }
            output.WriteLine($"{counts.Values.Sum()} lines from {writers.Count} writers in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(' ', counts.Select(kv => $"{kv.Key}={kv.Value}"))}");
            Assert.All(counts, kv => Assert.True(kv.Value > 0, $"{kv.Key} wrote nothing"));

            // Every line whole and exactly once, each writer's lines in its own order.
            var contents = CrashSupport.TranscriptContents(m, "c");
            Assert.Equal("Context created", contents[0]);
            Assert.Equal(1 + counts.Values.Sum(), contents.Count);
            CrashSupport.AssertExactlyOnce(contents, counts.SelectMany(kv => Enumerable.Range(0, kv.Value).Select(i => $"{kv.Key}-{i}")));
            foreach (var (prefix, n) in counts)
                Assert.Equal(Enumerable.Range(0, n).Select(i => $"{prefix}-{i}"), contents.Where(c => c.StartsWith(prefix + "-", StringComparison.Ordinal)));

            // The manifest agrees with the partition files: each listed file exists with the entries it
            // says, every partition file is listed, and the partitions plus active hold every line.
            string tdir = m.StorePath("contexts", "c", "transcript");
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(tdir, "manifest.json")));
            var records = manifest.RootElement.GetProperty("partitions").EnumerateArray().ToList();
            Assert.True(records.Count >= 10, $"only {records.Count} rotations");
            Assert.Equal(50, manifest.RootElement.GetProperty("rotation_policy").GetProperty("max_entries").GetInt64());
            long archived = 0;
            foreach (var r in records)
            {
                string file = r.GetProperty("file").GetString()!;
                long lines = File.ReadAllBytes(Path.Combine(tdir, file)).Count(b => b == (byte)'\n');
                Assert.Equal(lines, r.GetProperty("entry_count").GetInt64());
                Assert.True(File.Exists(Path.Combine(tdir, r.GetProperty("bloom_file").GetString()!)), $"no bloom file for {file}");
                archived += lines;
            }
            Assert.Equal(
                records.Select(r => r.GetProperty("file").GetString()!).Order(StringComparer.Ordinal),
                Directory.GetFiles(Path.Combine(tdir, "partitions"), "*.jsonl").Select(f => "partitions/" + Path.GetFileName(f)).Order(StringComparer.Ordinal));
            string active = Path.Combine(tdir, "active.jsonl");
            long activeLines = File.Exists(active) ? File.ReadAllBytes(active).Count(b => b == (byte)'\n') : 0;
            Assert.Equal(contents.Count, archived + activeLines);
            CrashSupport.AssertNoTornFileInStore(m, "c");

            Assert.Equal(0, m.Terminate());
            CrashSupport.AssertCheckConsistent(m);
        }
        finally
        {
            foreach (var (_, p) in writers) p.Dispose();
        }
    }

    /// <summary>
    /// Appends PREFIX-0, PREFIX-1, … (batch lines per write) for at most MaxLines lines or Seconds;
    /// prints how many. hold: one descriptor, else one open per write (as `echo >>` does).
    /// </summary>
    private static string MountWriter(string prefix, bool hold, int batch) => $$"""
        path = os.path.join(MNT, 'c', 'transcript.jsonl')
        deadline = time.time() + {{Seconds}}
        hold = {{(hold ? "True" : "False")}}
        fd = os.open(path, os.O_WRONLY | os.O_APPEND) if hold else -1
        i = 0
        while i < {{MaxLines}} and time.time() < deadline:
            n = min({{batch}}, {{MaxLines}} - i)
            data = ''.join('{"content":"{{prefix}}-%d"}\n' % (i + j) for j in range(n)).encode()
            f = fd if hold else os.open(path, os.O_WRONLY | os.O_APPEND)
            written = os.write(f, data)
            assert written == len(data), (written, len(data))
            if not hold:
                os.close(f)
            i += n
        print(i)
        """;
}

using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 "Rotation": at a small threshold the backend rotates the transcript into
/// partitions; transcript.jsonl keeps its bytes and offsets, so readers and tail -f see nothing
/// move. transcript/ shows the raw partitions, read-only.
/// </summary>
[Collection("Mount")]
public sealed class RotationTests
{
    [Theory]
    [InlineData("-F")]
    [InlineData("-f")]
    public void Tail_StartedBeforeRotations_PrintsEveryNewLineAcrossThem(string follow)
    {
        using var m = MountedStore.Start("--partition-max-entries 5");
        m.Ok("mkdir c");
        using var tail = new Background("tail", ["-n", "+1", follow, "-s", "0.2", "c/transcript.jsonl"], m.Mnt);
        Assert.True(LogView.WaitFor(() => tail.Out.Contains("Context created", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), $"tail printed nothing: {tail.Err}");

        for (int i = 1; i <= 23; i++)
        {
            m.Ok($"echo '{{\"content\":\"line-{i}\"}}' >> c/transcript.jsonl");
            if (i % 5 == 0) Thread.Sleep(300);   // let tail look between some rotations, not only at the end
        }

        bool all = LogView.WaitFor(() => tail.Out.Contains("\"line-23\"", StringComparison.Ordinal), TimeSpan.FromSeconds(15));
        Thread.Sleep(500);   // anything printed twice would show now
        string printed = tail.Out;
        Assert.True(all, $"tail stopped at: {printed}\n{tail.Err}");
        var contents = LogView.Contents(printed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["Context created", .. Enumerable.Range(1, 23).Select(i => $"line-{i}")], contents);
        Assert.Equal(m.Ok("cat c/transcript.jsonl"), printed);
        Assert.Equal(4, Directory.GetFiles(m.StorePath("contexts", "c", "transcript", "partitions"), "*.jsonl").Length);
    }

    [Fact]
    public void StatAndRead_DuringManyRotations_SizeNeverShrinksAndBytesNeverChange()
    {
        using var m = MountedStore.Start("--partition-max-entries 2");
        m.Ok("mkdir c");
        // A reader polling size and bytes as fast as it can, as tail -f does between its reads.
        using var watcher = Background.Python(m, """
            last, seen, polls = 0, b'', 0
            while not os.path.exists(os.path.join(MNT, '..', 'stop')):
                size = os.stat('c/transcript.jsonl').st_size
                if size < last:
                    print('shrank', last, size); break
                last = size
                with open('c/transcript.jsonl', 'rb') as f:
                    data = f.read()
                if not data.startswith(seen):
                    print('changed at', len(seen)); break
                seen, polls = data, polls + 1
            print('done', polls)
            """);

        m.Ok("for i in $(seq 60); do echo \"{\\\"content\\\":\\\"r$i\\\"}\" >> c/transcript.jsonl; done");
        File.WriteAllText(Path.Combine(m.Root, "stop"), "");

        Assert.True(watcher.Exited(TimeSpan.FromSeconds(20)), "the watcher did not stop");
        Assert.True(watcher.Out.Trim().StartsWith("done", StringComparison.Ordinal), $"watcher: {watcher.Out}{watcher.Err}");
        Assert.True(int.Parse(watcher.Out.Trim().Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 3, watcher.Out);   // it did watch (a loaded CI machine polls less)
        Assert.Equal(["Context created", .. Enumerable.Range(1, 60).Select(i => $"r{i}")], LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl")));
        Assert.True(Directory.GetFiles(m.StorePath("contexts", "c", "transcript", "partitions"), "*.jsonl").Length >= 30);
    }

    [Fact]
    public void Rotation_AtThreshold_KeepsTranscriptBytesAsPrefixAndShowsPartitions()
    {
        using var m = MountedStore.Start("--partition-max-entries 5");
        m.Ok("mkdir c");
        m.Ok("for i in 1 2 3; do echo \"{\\\"content\\\":\\\"a$i\\\"}\" >> c/transcript.jsonl; done");
        string beforeRotation = m.Ok("cat c/transcript.jsonl");
        Assert.Equal(4, beforeRotation.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(["active.jsonl"], m.Ok("ls c/transcript").Split('\n', StringSplitOptions.RemoveEmptyEntries));

        m.Ok("echo '{\"content\":\"a4\"}' >> c/transcript.jsonl");   // the fifth entry: rotates

        string afterFirst = m.Ok("cat c/transcript.jsonl");
        Assert.StartsWith(beforeRotation, afterFirst);
        Assert.Equal(5, afterFirst.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(["manifest.json", "partitions"], m.Ok("ls c/transcript").Split('\n', StringSplitOptions.RemoveEmptyEntries));

        m.Ok("for i in $(seq 5 12); do echo \"{\\\"content\\\":\\\"a$i\\\"}\" >> c/transcript.jsonl; done");

        string afterSecond = m.Ok("cat c/transcript.jsonl");
        Assert.StartsWith(afterFirst, afterSecond);
        Assert.Equal(["Context created", .. Enumerable.Range(1, 12).Select(i => $"a{i}")],
            LogView.Contents(afterSecond.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var listing = m.Ok("ls c/transcript").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["active.jsonl", "manifest.json", "partitions"], listing);
        var files = m.Ok("ls c/transcript/partitions").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, files.Count(f => f.EndsWith(".jsonl", StringComparison.Ordinal)));
        Assert.Equal(2, files.Count(f => f.EndsWith(".bloom", StringComparison.Ordinal)));

        using var manifest = JsonDocument.Parse(m.Ok("cat c/transcript/manifest.json"));
        var partitions = manifest.RootElement.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal([5L, 5L], partitions.Select(p => p.GetProperty("entry_count").GetInt64()));
        Assert.Equal(5, manifest.RootElement.GetProperty("rotation_policy").GetProperty("max_entries").GetInt64());
        // The whole file is the partitions in manifest order, then the active one — and its size is their sum.
        string joined = m.Ok(string.Join(' ', ["cat", .. partitions.Select(p => "c/transcript/" + p.GetProperty("file").GetString()), "c/transcript/active.jsonl"]));
        Assert.Equal(afterSecond, joined);
        Assert.Equal(Encoding.UTF8.GetByteCount(afterSecond).ToString(System.Globalization.CultureInfo.InvariantCulture), m.Ok("stat -c %s c/transcript.jsonl").Trim());
        foreach (var p in partitions)
        {
            using var bloom = JsonDocument.Parse(m.Ok($"cat c/transcript/{p.GetProperty("bloom_file").GetString()}"));
            Assert.True(bloom.RootElement.GetProperty("num_hashes").GetInt32() >= 1);
        }
    }

    [Fact]
    public void WritesUnderTranscriptDir_FailEroFsAndChangeNothing()
    {
        using var m = MountedStore.Start("--partition-max-entries 5");
        m.Ok("mkdir c && for i in 1 2 3 4 5 6; do echo \"{\\\"content\\\":\\\"a$i\\\"}\" >> c/transcript.jsonl; done");
        string partition = m.Ok("ls c/transcript/partitions/*.jsonl").Trim();
        var before = m.Ok("ls -lR c/transcript && cat c/transcript.jsonl");

        foreach (var script in new[]
                 {
                     "echo '{}' >> c/transcript/active.jsonl",
                     $"echo '{{}}' >> {partition}",
                     "echo '{}' > c/transcript/manifest.json",
                     "touch c/transcript/new",
                     "mkdir c/transcript/d",
                     "rm c/transcript/manifest.json",
                     $"rm {partition}",
                     $"mv {partition} c/transcript/partitions/x.jsonl",
                     "truncate -s 0 c/transcript/active.jsonl",
                 })
        {
            var (exit, _, stderr) = m.Sh(script);
            Assert.True(exit != 0, $"`{script}` succeeded");
            Assert.Contains("Read-only file system", stderr);
        }
        var (pexit, pout, perr) = m.Python($"""
            try:
                os.open('{partition}', os.O_WRONLY | os.O_APPEND)
                print('opened')
            except OSError as e:
                print('errno', e.errno)
            """);
        Assert.True(pexit == 0, perr);
        Assert.Equal("errno 30", pout.Trim());

        Assert.Equal(before, m.Ok("ls -lR c/transcript && cat c/transcript.jsonl"));
    }

    [Fact]
    public void AgedActivePartition_WithoutAppends_IsRotatedByTheTimer()
    {
        long old = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 7200;
        string lines = string.Concat(new[] { "Context created", "an old message" }.Select((content, i) =>
            $"{{\"id\":\"00000000-0000-4000-8000-00000000000{i}\",\"timestamp\":{old + i},\"from\":\"system\",\"to\":\"old\",\"content\":\"{content}\",\"entry_type\":\"message\"}}\n"));
        using var m = MountedStore.Start("--partition-max-age-seconds 60", prepareStore: store =>
        {
            string dir = Path.Combine(store, "contexts", "old", "transcript");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "active.jsonl"), lines);
        });

        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(10), () => File.Exists(m.StorePath("contexts", "old", "transcript", "manifest.json"))),
            $"no rotation by age without an append:\n{m.Log}");
        Assert.Equal(lines, m.Ok("cat old/transcript.jsonl"));   // rotation moved no byte of the whole
        Assert.Equal($"{old}-{old + 1}.jsonl", m.Ok("ls old/transcript/partitions | grep jsonl").Trim());
        using var manifest = JsonDocument.Parse(File.ReadAllText(m.StorePath("contexts", "old", "transcript", "manifest.json")));
        Assert.Equal(60, manifest.RootElement.GetProperty("rotation_policy").GetProperty("max_age_seconds").GetInt64());
    }
}

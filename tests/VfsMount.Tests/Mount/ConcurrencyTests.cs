using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 "lines from different writers never interleave" and "Locking": many writers
/// through the mount, and a chibi-like writer straight into the store, at the same time.
/// </summary>
[Collection("Mount")]
public sealed class ConcurrencyTests
{
    [Fact]
    public void ShellLoops_EightWritersConcurrently_EveryLineOnceWholeInPerWriterOrder()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir ctx");
        Assert.Single(LogView.CatLines(m, "ctx/transcript.jsonl"));

        m.Ok("""
            for k in 1 2 3 4 5 6 7 8; do
              ( for i in $(seq 200); do echo "{\"content\":\"w$k-$i\"}" >> ctx/transcript.jsonl; done ) &
            done
            wait
            """, timeoutSeconds: 90);

        var lines = LogView.CatLines(m, "ctx/transcript.jsonl");
        var contents = LogView.Contents(lines);   // every line parses whole
        Assert.Equal(1 + 8 * 200, contents.Count);
        Assert.Equal(contents.Count, contents.Distinct().Count());
        for (int k = 1; k <= 8; k++)
        {
            var mine = contents.Where(c => c.StartsWith($"w{k}-", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(1, 200).Select(i => $"w{k}-{i}"), mine);
        }
        Assert.Equal(string.Join('\n', lines) + "\n", Encoding.UTF8.GetString(LogView.StoreTranscript(m, "ctx")));
    }

    [Fact]
    public void ChibiLikeWriter_AppendingToStoreDuringMountAppends_BothVisibleExactlyOnce()
    {
        // A small rotation threshold makes the mount rotate while the other writer appends.
        using var m = MountedStore.Start("--partition-max-entries 50");
        m.Ok("mkdir c");
        string user = LogView.LoginName(m);

        using var chibi = Background.Python(m, LogView.ChibiWriter("c", "chibi", 200));
        m.Ok("for i in $(seq 200); do echo \"{\\\"content\\\":\\\"mount-$i\\\"}\" >> c/transcript.jsonl; done", timeoutSeconds: 90);
        Assert.True(chibi.Exited(TimeSpan.FromSeconds(60)), "the chibi-like writer did not finish");
        Assert.True(chibi.Process.ExitCode == 0, chibi.Err);

        var lines = LogView.CatLines(m, "c/transcript.jsonl");
        var entries = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var contents = entries.Select(e => e.GetProperty("content").GetString()!).ToList();
        Assert.Equal(1 + 400, contents.Count);
        Assert.Equal(contents.Count, contents.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"chibi-{i}"), contents.Where(c => c.StartsWith("chibi-", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(1, 200).Select(i => $"mount-{i}"), contents.Where(c => c.StartsWith("mount-", StringComparison.Ordinal)));
        Assert.All(entries.Where(e => e.GetProperty("content").GetString()!.StartsWith("mount-", StringComparison.Ordinal)),
            e => Assert.Equal(user, e.GetProperty("from").GetString()));
        Assert.Equal(string.Join('\n', lines) + "\n", Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c")));
        // The mount rotated while chibi appended: the partitions hold whole entries only, 401 in all.
        using var manifest = JsonDocument.Parse(m.Ok("cat c/transcript/manifest.json"));
        var partitions = manifest.RootElement.GetProperty("partitions").EnumerateArray().ToList();
        Assert.NotEmpty(partitions);
        long archived = partitions.Sum(p => p.GetProperty("entry_count").GetInt64());
        long active = m.Ok("cat c/transcript/active.jsonl 2>/dev/null || true").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Equal(401, archived + active);
    }
}

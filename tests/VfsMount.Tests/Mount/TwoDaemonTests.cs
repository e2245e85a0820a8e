using System.Diagnostics;
using System.Text;
using System.Text.Json;
using VfsMount.Tests.Reliability;
using Xunit.Abstractions;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §1: another vfsmount daemon may use the store while it is mounted. Two mount points of
/// one store on this machine stand for two machines on a shared filesystem with working flock:
/// appends through both with rotations every few entries, documents committed by either, and
/// the second daemon's mount-time recovery beside the first one's open handles.
/// </summary>
[Collection("Mount")]
public sealed class TwoDaemonTests(ITestOutputHelper output)
{
    private const string Args = "--partition-max-entries 5";
    private const int LinesEach = 150;

    [Fact]
    public async Task AppendsThroughBoth_RotatingEveryFiveEntries_EveryLineOnceManifestConsistent()
    {
        using var a = MountedStore.Start(Args);
        using var b = a.SecondDaemon(Args);
        a.Ok("mkdir ctx");
        WaitUntil(() => b.Sh("test -d ctx").Exit == 0, "b never saw the context a made");

        // A tail -f of its own on b: the size it is told never shrinks, and the bytes it read
        // once stay those bytes, while the other daemon rotates active.jsonl away under it.
        string done = Path.Combine(a.Root, "done"), seenPath = Path.Combine(a.Root, "seen");
        using var tail = CrashSupport.Python(b, $$"""
            fd = os.open(os.path.join(MNT, 'ctx', 'transcript.jsonl'), os.O_RDONLY)
            seen, shrank, changed, checks = b'', [], [], 0
            while True:
                last = os.path.exists('{{done}}')
                size = os.fstat(fd).st_size
                checks += 1
                if size < len(seen):
                    shrank.append((len(seen), size))
                seen += os.pread(fd, 1 << 16, len(seen))
                # Again, a full window just behind the end: the bytes of the newest partition or active.jsonl.
                at = max(0, len(seen) - 400)
                again = os.pread(fd, 200, at)
                if again != seen[at:at + 200]:
                    changed.append(at)
                if last:
                    break
            open('{{seenPath}}', 'wb').write(seen)
            print(json.dumps({'shrank': shrank[:5], 'changed': changed[:5], 'checks': checks}))
            """);
        string Loop(string who) => $"for i in $(seq {LinesEach}); do echo \"{{\\\"content\\\":\\\"{who}-$i\\\"}}\" >> ctx/transcript.jsonl; done";
        var writerA = Task.Run(() => a.Ok(Loop("a"), timeoutSeconds: 180));
        var writerB = Task.Run(() => b.Ok(Loop("b"), timeoutSeconds: 180));
        await Task.WhenAll(writerA, writerB).WaitAsync(TimeSpan.FromSeconds(200));
        File.WriteAllText(done, "");
        Assert.True(tail.Exited(TimeSpan.FromSeconds(60)), "the tail never finished");
        using (var report = JsonDocument.Parse(tail.Out))
        {
            Assert.True(report.RootElement.GetProperty("shrank").GetArrayLength() == 0, $"transcript.jsonl shrank under a reader of the other daemon: {tail.Out}");
            Assert.True(report.RootElement.GetProperty("changed").GetArrayLength() == 0, $"bytes read again at an offset differed: {tail.Out}");
            Assert.True(report.RootElement.GetProperty("checks").GetInt32() > 10, tail.Out);
            output.WriteLine($"tail on the second daemon: {tail.Out.Trim()}");
        }

        // Both views read the same bytes: every line exactly once, whole, each writer's in its order.
        string throughA = a.Ok("cat ctx/transcript.jsonl"), throughB = b.Ok("cat ctx/transcript.jsonl");
        Assert.Equal(throughA, throughB);
        Assert.Equal(throughA, Encoding.UTF8.GetString(LogView.StoreTranscript(a, "ctx")));
        string seen = File.ReadAllText(seenPath);
        Assert.True(throughA.StartsWith(seen, StringComparison.Ordinal), "bytes the tail read once are not the transcript's bytes at those offsets");
        var contents = throughA.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("content").GetString()!).ToList();
        Assert.Equal("Context created", contents[0]);
        CrashSupport.AssertExactlyOnce(contents, [.. Mine("a"), .. Mine("b")]);
        Assert.Equal(Mine("a"), contents.Where(c => c.StartsWith("a-", StringComparison.Ordinal)));
        Assert.Equal(Mine("b"), contents.Where(c => c.StartsWith("b-", StringComparison.Ordinal)));

        // The manifest agrees with the partitions: every entry once, in partitions of at most five.
        using var manifest = JsonDocument.Parse(File.ReadAllText(a.StorePath("contexts", "ctx", "transcript", "manifest.json")));
        var partitions = manifest.RootElement.GetProperty("partitions").EnumerateArray().ToList();
        Assert.True(partitions.Count >= (1 + 2 * LinesEach) / 5 - 1, $"only {partitions.Count} partitions");
        Assert.Equal(partitions.Count, partitions.Select(p => p.GetProperty("file").GetString()).Distinct().Count());
        string activePath = a.StorePath("contexts", "ctx", "transcript", "active.jsonl");
        long active = File.Exists(activePath) ? File.ReadAllLines(activePath).Length : 0;
        Assert.Equal(1 + 2 * LinesEach, partitions.Sum(p => p.GetProperty("entry_count").GetInt64()) + active);

        Assert.Equal(0, b.Terminate());
        Assert.Equal(0, a.Terminate());
        CrashSupport.AssertCheckConsistent(a);
    }

    [Fact]
    public void DocumentCommittedThroughOne_VisibleThroughTheOtherWithinOneSecond()
    {
        using var a = MountedStore.Start();
        using var b = a.SecondDaemon();
        a.Ok("mkdir ctx && echo first > ctx/summary.md");
        WaitUntil(() => b.Sh("cat ctx/summary.md").Out == "first\n", "b never saw a's first summary.md");

        for (int round = 0; round < 3; round++)
        {
            var (writer, reader) = round % 2 == 0 ? (a, b) : (b, a);
            string text = $"round {round}\n";
            writer.Ok($"echo 'round {round}' > ctx/summary.md");
            var clock = Stopwatch.StartNew();
            WaitUntil(() => reader.Sh("cat ctx/summary.md").Out == text, $"round {round}: the other daemon never served the commit");
            output.WriteLine($"round {round}: served by the other daemon after {clock.Elapsed.TotalMilliseconds:F0} ms");
            // The poll itself runs cat through bash: allow its own cost on a loaded machine on top of the second.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"round {round}: visible only after {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
        Assert.Equal(0, b.Terminate());
        Assert.Equal(0, a.Terminate());
        CrashSupport.AssertCheckConsistent(a);
    }

    [Fact]
    public void SecondDaemonMounting_BesideAnIdleWritingHandleOfTheFirst_CommitStillLands()
    {
        using var a = MountedStore.Start();
        a.Ok("mkdir ctx && echo old > ctx/summary.md");
        string go = Path.Combine(a.Root, "go");
        // A program that opened summary.md for writing, wrote, and then sat idle for minutes.
        using var writer = CrashSupport.Python(a, $$"""
            fd = os.open(os.path.join(MNT, 'ctx', 'summary.md'), os.O_WRONLY | os.O_TRUNC)
            os.write(fd, b'written while idle\n')
            print('written', flush=True)
            while not os.path.exists('{{go}}'):
                time.sleep(0.05)
            try:
                os.close(fd)
                print('closed')
            except OSError as e:
                print('error', errno.errorcode.get(e.errno, e.errno))
            """);
        WaitUntil(() => writer.Out.Contains("written", StringComparison.Ordinal), "the writer never wrote");
        string staged = Assert.Single(CrashSupport.MountTemps(a));
        File.SetLastWriteTimeUtc(staged, DateTime.UtcNow.AddMinutes(-5));

        using (var b = a.SecondDaemon())   // its recovery runs over the store before it serves
        {
            Assert.Equal("old\n", b.Ok("cat ctx/summary.md"));
            Assert.True(File.Exists(staged), $"the second daemon's recovery deleted the first one's staged copy:\n{b.Log}");
            Assert.Equal(0, b.Terminate());
        }
        File.WriteAllText(go, "");
        Assert.True(writer.Exited(TimeSpan.FromSeconds(30)), "the writer never finished");
        Assert.Equal("written\nclosed\n", writer.Out);
        Assert.Equal("written while idle\n", a.Ok("cat ctx/summary.md"));
        Assert.Equal(0, a.Terminate());
        CrashSupport.AssertCheckConsistent(a);
    }

    private static IEnumerable<string> Mine(string who) => Enumerable.Range(1, LinesEach).Select(i => $"{who}-{i}");

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            Thread.Sleep(20);
        }
    }
}

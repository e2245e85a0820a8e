using System.Diagnostics;
using System.Globalization;
using VfsMount.Tests.Mount;
using Xunit.Abstractions;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §3 "a crash of the daemon (kill -9) never leaves a torn line visible, a half-written
/// document, or a manifest that disagrees with the partitions": the daemon is killed again and
/// again at random moments while writers append to the transcript and rewrite a 1 MiB document
/// through the mount; each writer records what the mount acknowledged. After every remount
/// (recovery runs at mount) nothing acknowledged is missing or doubled.
/// </summary>
[Collection("Mount")]
public sealed class CrashLoopTests(ITestOutputHelper output)
{
    private const int Cycles = 24;
    private const int TranscriptWriters = 4;
    private const string Args = "--partition-max-entries 20";
    private const int DocumentBytes = 1 << 20;
    private const int DocumentLine = 64;   // "version NNNNNNNNNN " + 44 dots + "\n"

    [Fact]
    public void KillDaemon_RandomMomentsDuringAppendsAndDocumentCommits_AcknowledgedOnceNothingTornDocumentWhole()
    {
        int seed = Environment.GetEnvironmentVariable("VFSMOUNT_TEST_SEED") is { Length: > 0 } s
            ? int.Parse(s, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        output.WriteLine($"crash loop seed {seed} (rerun with VFSMOUNT_TEST_SEED={seed})");
        var random = new Random(seed);
        string why = $"(seed {seed})";

        using var m = MountedStore.Start(Args);
        m.Ok("mkdir ctx");
        string records = Path.Combine(m.Root, "records");
        Directory.CreateDirectory(records);
        var clock = Stopwatch.StartNew();

        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            if (cycle > 0) m.Mount(Args);
            var writers = new List<Background>();
            try
            {
                for (int k = 0; k < TranscriptWriters; k++)
                    writers.Add(CrashSupport.Python(m, TranscriptWriter($"w{k}-c{cycle}", hold: k % 2 == 0, random.Next(), Path.Combine(records, $"w{k}-c{cycle}"))));
                writers.Add(CrashSupport.Python(m, DocumentWriter(cycle * 1_000_000L, Path.Combine(records, $"doc-c{cycle}"))));
                writers.Add(CrashSupport.Python(m, ContextChurn($"churn{cycle}")));
                Thread.Sleep(random.Next(300, 2500));
                m.Crash();   // kill -9, then a lazy unmount of what it leaves
            }
            finally
            {
                foreach (var w in writers) w.Dispose();   // each killed by its pid
            }
        }
        output.WriteLine($"{Cycles} crash cycles in {clock.Elapsed.TotalSeconds:F1} s");

        m.Mount(Args);   // recovery runs at mount
        var acknowledged = new List<string>();
        for (int cycle = 0; cycle < Cycles; cycle++)
            for (int k = 0; k < TranscriptWriters; k++)
                acknowledged.AddRange(CrashSupport.RecordLines(Path.Combine(records, $"w{k}-c{cycle}")));
        var versions = Enumerable.Range(0, Cycles)
            .SelectMany(c => CrashSupport.RecordLines(Path.Combine(records, $"doc-c{c}")))
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToList();
        output.WriteLine($"{acknowledged.Count} acknowledged lines, {versions.Count} acknowledged document versions");
        Assert.True(acknowledged.Count >= Cycles, $"too few acknowledged lines to mean anything: {acknowledged.Count} {why}\n{m.Log}");
        Assert.True(versions.Count > 0, $"no document version was ever acknowledged {why}\n{m.Log}");

        // The transcript: every line whole, every acknowledged line exactly once, each writer's lines in its order.
        var contents = CrashSupport.TranscriptContents(m, "ctx");
        Assert.Equal("Context created", contents[0]);
        CrashSupport.AssertExactlyOnce(contents, acknowledged, why);
        for (int k = 0; k < TranscriptWriters; k++)
        {
            var mine = contents.Where(c => c.StartsWith($"w{k}-", StringComparison.Ordinal))
                .Select(c => c.Split('-') is [_, var cy, var i] ? (Cycle: int.Parse(cy[1..], CultureInfo.InvariantCulture), I: int.Parse(i, CultureInfo.InvariantCulture)) : throw new FormatException(c))
                .ToList();
            for (int j = 1; j < mine.Count; j++)
                Assert.True(mine[j - 1].CompareTo(mine[j]) < 0, $"writer w{k}: {mine[j - 1]} before {mine[j]} {why}");
        }
        CrashSupport.AssertNoTornFileInStore(m, "ctx");
        var recoveries = m.Log.Split('\n').Where(l => l.Contains("recovery:", StringComparison.Ordinal)).ToList();
        output.WriteLine($"{contents.Count} lines, {Directory.GetFiles(m.StorePath("contexts", "ctx", "transcript", "partitions"), "*.jsonl").Length} partitions, {recoveries.Count} recoveries at mount:");
        foreach (var r in recoveries.Take(30)) output.WriteLine(r);

        // The document: one whole version, its full 1 MiB, at least as new as the last acknowledged.
        string document = m.Ok("cat ctx/summary.md", timeoutSeconds: 60);
        Assert.Equal(DocumentBytes, document.Length);
        string first = document[..DocumentLine];
        long version = long.Parse(first["version ".Length..("version ".Length + 10)], CultureInfo.InvariantCulture);
        Assert.True(document == string.Concat(Enumerable.Repeat(first, DocumentBytes / DocumentLine)), $"summary.md mixes versions {why}");
        Assert.Equal(VersionLine(version), first);
        Assert.True(version >= versions.Max(), $"summary.md is version {version}, older than the acknowledged {versions.Max()} {why}");
        Assert.DoesNotContain(".vfsmount-tmp-", m.Ok("ls -A ctx ctx/transcript ctx/transcript/partitions"), StringComparison.Ordinal);

        // Contexts killed in the middle of mkdir or rmdir: each one left is whole (its anchor), none half-deleted.
        Assert.Empty(Directory.GetDirectories(m.StorePath("contexts"), ".vfsmount-trash-*"));
        var churned = m.Ok("ls").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n.StartsWith("churn", StringComparison.Ordinal)).ToList();
        output.WriteLine($"{churned.Count} churned contexts left after the kills");
        foreach (var name in churned)
        {
            var anchor = CrashSupport.TranscriptContents(m, name);
            Assert.True(anchor.SequenceEqual(["Context created"]) || anchor.Count == 0, $"{name}: {string.Join(",", anchor)} {why}");
            m.Ok($"rmdir {name}");
        }

        Assert.Equal(0, m.Terminate());
        // Staging and temp files of commits the kills interrupted, and contexts killed in the middle of
        // their rmdir, are gone after one more recovery: nothing of a dead daemon is held.
        CrashSupport.RecoverRemovesDeadTemps(m, Args);
        CrashSupport.AssertCheckConsistent(m);
    }

    private static string VersionLine(long version) =>
        $"version {version.ToString("D10", CultureInfo.InvariantCulture)} " + new string('.', 44) + "\n";

    /// <summary>
    /// Appends lines named PREFIX-i (1 to 3 per write) until the mount fails; records each line
    /// only after its write returned. hold: one descriptor for all, else one open per write (as `echo >>`).
    /// </summary>
    private static string TranscriptWriter(string prefix, bool hold, int seed, string record) => $$"""
        import random
        rnd = random.Random({{seed}})
        path = os.path.join(MNT, 'ctx', 'transcript.jsonl')
        rec = os.open('{{record}}', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        hold = {{(hold ? "True" : "False")}}
        i = 0
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND) if hold else -1
            while True:
                names = ['{{prefix}}-%d' % (i + j) for j in range(rnd.choice((1, 1, 1, 2, 3)))]
                data = ''.join('{"content":"%s"}\n' % n for n in names).encode()
                f = fd if hold else os.open(path, os.O_WRONLY | os.O_APPEND)
                written = os.write(f, data)
                if written != len(data):
                    print('short write', written, len(data))
                    break
                os.write(rec, ''.join(n + '\n' for n in names).encode())
                if not hold:
                    os.close(f)
                i += len(names)
        except OSError as e:
            print('error after', i, errno.errorcode.get(e.errno, e.errno))
        """;

    /// <summary>Creates and removes contexts PREFIX-i, one after another, so kills land inside mkdir and rmdir (the trash rename).</summary>
    private static string ContextChurn(string prefix) => $$"""
        i = 0
        try:
            while True:
                path = os.path.join(MNT, '{{prefix}}-%d' % i)
                os.mkdir(path)
                os.rmdir(path)
                i += 1
        except OSError as e:
            print('error after', i, errno.errorcode.get(e.errno, e.errno))
        """;

    /// <summary>Rewrites summary.md with versions START, START+1, …; records a version once its close returned 0.</summary>
    private static string DocumentWriter(long start, string record) => $$"""
        path = os.path.join(MNT, 'ctx', 'summary.md')
        rec = os.open('{{record}}', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        v = {{start}}
        while True:
            data = (('version %010d ' % v) + '.' * 44 + '\n').encode() * {{DocumentBytes / DocumentLine}}
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)   # the commit: raises unless durable
            except OSError as e:
                print('error at version', v, errno.errorcode.get(e.errno, e.errno))
                break
            os.write(rec, b'%d\n' % v)
            v += 1
        """;
}

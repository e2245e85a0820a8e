using System.Text;
using System.Text.Json;
using VfsMount.Tests.Mount;
using StoreCli = VfsMount.Tests.Store.Cli;

namespace VfsMount.Tests.Reliability;

/// <summary>What the crash and load tests share: writers started outside the mount, and the checks made after recovery.</summary>
internal static class CrashSupport
{
    /// <summary>
    /// A python3 program in the background, started in the test's temp root (not in the mount, so a
    /// crashed mount does not hold its working directory), with MNT and STORE bound. Dispose kills
    /// it by its pid.
    /// </summary>
    public static Background Python(MountedStore m, string program) =>
        new("python3", ["-u", "-c", $"import os, sys, json, errno, time\nMNT = '{m.Mnt}'\nSTORE = '{m.Store}'\n{program}"], m.Root);

    /// <summary>The text as a python bytes literal (ASCII text without quotes or backslashes).</summary>
    public static string PyBytes(string text)
    {
        Assert.DoesNotContain('\'', text);
        Assert.DoesNotContain('\\', text);
        return "b'" + text.Replace("\n", "\\n", StringComparison.Ordinal) + "'";
    }

    /// <summary>The complete lines of a record file (a trailing unfinished line is a record its writer did not finish: ignored).</summary>
    public static List<string> RecordLines(string path)
    {
        if (!File.Exists(path)) return [];
        string text = File.ReadAllText(path);
        int end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n').ToList();
    }

    /// <summary>
    /// transcript.jsonl read through the mount: it must end with '\n' and every line must be one
    /// JSON object with a string content (no torn line, no glued line). Returns the contents in order.
    /// </summary>
    public static List<string> TranscriptContents(MountedStore m, string context)
    {
        string text = m.Ok($"cat {context}/transcript.jsonl", timeoutSeconds: 120);
        Assert.True(text.Length == 0 || text[^1] == '\n', $"transcript.jsonl ends with an unfinished line: …{text[Math.Max(0, text.Length - 200)..]}");
        var contents = new List<string>();
        int n = 0;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            n++;
            try
            {
                using var doc = JsonDocument.Parse(line);
                Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
                contents.Add(doc.RootElement.GetProperty("content").GetString()!);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                Assert.Fail($"line {n} of transcript.jsonl is not a whole entry ({e.Message}): {line}");
            }
        }
        Assert.Equal(Encoding.UTF8.GetString(LogView.StoreTranscript(m, context)), text);
        return contents;
    }

    /// <summary>Every acknowledged content exactly once; nothing at all twice.</summary>
    public static void AssertExactlyOnce(IReadOnlyList<string> contents, IEnumerable<string> acknowledged, string because = "")
    {
        var counts = contents.GroupBy(c => c, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var twice = counts.Where(kv => kv.Value > 1).Select(kv => kv.Key).Take(10).ToList();
        Assert.True(twice.Count == 0, $"appended more than once: {string.Join(", ", twice)} {because}");
        var lost = acknowledged.Where(a => !counts.ContainsKey(a)).Take(10).ToList();
        Assert.True(lost.Count == 0, $"acknowledged but lost: {string.Join(", ", lost)} {because}");
    }

    /// <summary>No file in the transcript's directories ends with an unfinished line.</summary>
    public static void AssertNoTornFileInStore(MountedStore m, string context)
    {
        string dir = m.StorePath("contexts", context, "transcript");
        var files = Directory.GetFiles(dir, "*.jsonl").ToList();
        if (Directory.Exists(Path.Combine(dir, "partitions"))) files.AddRange(Directory.GetFiles(Path.Combine(dir, "partitions"), "*.jsonl"));
        foreach (var f in files)
        {
            byte[] bytes = File.ReadAllBytes(f);
            Assert.True(bytes.Length == 0 || bytes[^1] == (byte)'\n', $"{f} ends with a torn line");
        }
    }

    /// <summary>`vfsmount check --store STORE` (a separate process) reports the store consistent.</summary>
    public static void AssertCheckConsistent(MountedStore m)
    {
        var check = StoreCli.Check(m.Store);
        Assert.True(check.ExitCode == 0, $"vfsmount check: {check}\ndaemon log:\n{m.Log}");
        Assert.Contains("store is consistent", check.Stdout);
    }

    /// <summary>The mount's temp and staging files anywhere in the store.</summary>
    public static string[] MountTemps(MountedStore m) =>
        Directory.GetFiles(m.Store, ".vfsmount-tmp-*", SearchOption.AllDirectories);

    /// <summary>
    /// Temp and staging files a crash left are removed by the next recovery, whatever their age:
    /// the dead daemon no longer holds their locks. Mount (recovery runs), unmount cleanly, and
    /// see them gone, and no removed context left in the trash.
    /// </summary>
    public static void RecoverRemovesDeadTemps(MountedStore m, string args = "")
    {
        m.Mount(args);
        Assert.Equal(0, m.Terminate());
        Assert.Empty(MountTemps(m));
        Assert.Empty(Directory.GetDirectories(m.StorePath("contexts"), ".vfsmount-trash-*"));
    }

    /// <summary>The daemon ended on its own at the armed crash point: _exit(70).</summary>
    public static void AssertDiedAtCrashPoint(MountedStore m)
    {
        Assert.True(m.Daemon.WaitForExit(20_000), $"the daemon did not die at the crash point:\n{m.Log}");
        m.Daemon.WaitForExit();
        Assert.True(m.Daemon.ExitCode == 70, $"daemon exit code {m.Daemon.ExitCode}, expected 70 (crash point):\n{m.Log}");
    }
}

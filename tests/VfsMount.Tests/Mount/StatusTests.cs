using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2 and §4: MNT/.vfsmount/status.json counts exactly what was done through the mount,
/// quarantine/ shows each refused item by name with the refused bytes, and all of .vfsmount/
/// is read-only. Read with cat, python and `vfsmount status`.
/// </summary>
[Collection("Mount")]
public sealed class StatusTests
{
    private static JsonElement Status(MountedStore m) =>
        JsonDocument.Parse(m.Ok("cat .vfsmount/status.json")).RootElement.Clone();

    private static long Refusals(JsonElement counters, string errno) =>
        counters.GetProperty("refusals").TryGetProperty(errno, out var n) ? n.GetInt64() : 0;

    [Fact]
    public void StatusJson_AppendsIncreaseByTheLinesAppended_RefusalsByTheRefusal()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        var before = Status(m);

        m.Ok("printf '{\"content\":\"a\"}\\n{\"content\":\"b\"}\\n{\"content\":\"c\"}\\n' >> c/transcript.jsonl");   // one write, three lines
        m.Ok("echo '{\"content\":\"d\"}' >> c/transcript.jsonl && echo '{\"content\":\"i\"}' >> c/inbox.jsonl && echo 'text' >> c/transcript.md");
        var (exit, _, _) = m.Sh("echo 'not json' >> c/transcript.jsonl");
        Assert.NotEqual(0, exit);
        m.Ok("echo '# s' > c/summary.md");
        var after = Status(m);

        Assert.Equal(6, after.GetProperty("appends").GetInt64() - before.GetProperty("appends").GetInt64());
        var c = after.GetProperty("contexts").GetProperty("c");
        Assert.Equal(6, c.GetProperty("appends").GetInt64() - before.GetProperty("contexts").GetProperty("c").GetProperty("appends").GetInt64());
        long stored = new[] { "transcript/active.jsonl", "inbox.jsonl", "transcript.md" }
            .Sum(f => new FileInfo(m.StorePath("contexts", "c", f)).Length);
        long anchor = File.ReadAllLines(m.StorePath("contexts", "c", "transcript", "active.jsonl"))[0].Length + 1;
        Assert.Equal(stored - anchor, c.GetProperty("append_bytes").GetInt64());
        Assert.Equal(1, Refusals(after, "EINVAL") - Refusals(before, "EINVAL"));
        Assert.Equal(1, Refusals(c, "EINVAL"));
        Assert.Equal(1, after.GetProperty("quarantine").GetProperty("items").GetInt64());
        Assert.Equal("not json\n".Length, after.GetProperty("quarantine").GetProperty("bytes").GetInt64());
        Assert.Equal(1, c.GetProperty("commits").GetInt64());
        Assert.Equal(m.Store, after.GetProperty("store").GetString());
        Assert.Equal(m.Mnt, after.GetProperty("mountpoint").GetString());
        Assert.True(after.GetProperty("uptime_s").GetInt64() >= 0);
        Assert.Equal(0, after.GetProperty("open_handles").GetInt64());
    }

    [Fact]
    public void StatusJson_ManyConcurrentWriters_CountsEveryLineOnce_AndOpenHandlesAndRotations()
    {
        using var m = MountedStore.Start("--partition-max-entries 50");
        m.Ok("mkdir c");
        // 8 writers × 40 lines, each line its own write(2), all at once.
        m.Ok("for w in $(seq 8); do (for i in $(seq 40); do echo \"{\\\"content\\\":\\\"$w-$i\\\"}\" >> c/transcript.jsonl; done) & done; wait", 120);

        var s = Status(m);
        Assert.Equal(320, s.GetProperty("appends").GetInt64());
        Assert.Equal(320, s.GetProperty("contexts").GetProperty("c").GetProperty("appends").GetInt64());
        Assert.Equal(321, m.Ok("cat c/transcript.jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(Directory.GetFiles(m.StorePath("contexts", "c", "transcript", "partitions"), "*.jsonl").Length, s.GetProperty("rotations").GetInt64());
        Assert.True(s.GetProperty("rotations").GetInt64() >= 6);

        var (exit, stdout, err) = m.Python("""
            f = open('c/summary.md', 'w')
            g = open('c/transcript.jsonl')
            print(json.load(open('.vfsmount/status.json'))['open_handles'])
            """);
        Assert.True(exit == 0, err);
        Assert.Equal("2", stdout.Trim());
    }

    [Fact]
    public void Quarantine_RefusedLine_IsAReadOnlyFileNamedByTimeContextAndFile_HoldingThatLine()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir work && echo '{\"content\":\"ok\"}' >> work/transcript.jsonl");
        Assert.Empty(ViewProbe.Ls(m, ".vfsmount/quarantine"));

        var (exit, _, _) = m.Sh("echo '{\"content\": broken' >> work/transcript.jsonl");
        Assert.NotEqual(0, exit);

        string name = Assert.Single(ViewProbe.Ls(m, ".vfsmount/quarantine"));
        Assert.StartsWith(DateTime.UtcNow.ToString("yyyyMMdd'T'", System.Globalization.CultureInfo.InvariantCulture), name, StringComparison.Ordinal);
        Assert.EndsWith("-work-transcript.jsonl", name, StringComparison.Ordinal);
        Assert.Equal("{\"content\": broken\n", m.Ok($"cat .vfsmount/quarantine/{name}"));
        // Read-only, and the store owner's alone: refused content may come from a private file (SPEC §2.5).
        Assert.Equal("-r--------", m.Ok($"stat -c %A .vfsmount/quarantine/{name}").Trim());
        Assert.Contains(ViewProbe.Ls(m, "."), n => n == ".vfsmount");
        Assert.Equal(["quarantine", "status.json"], ViewProbe.Ls(m, ".vfsmount").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void VfsmountDir_EveryChange_FailsErofs_AndChangesNothing()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        m.Sh("echo nope >> c/transcript.jsonl");
        string item = Assert.Single(ViewProbe.Ls(m, ".vfsmount/quarantine"));
        string q = $".vfsmount/quarantine/{item}";

        Assert.Equal(30, ViewProbe.Errno(m, "open('.vfsmount/status.json', 'w')"));
        Assert.Equal(30, ViewProbe.Errno(m, "open('.vfsmount/new', 'w')"));
        Assert.Equal(30, ViewProbe.Errno(m, $"open('{q}', 'a')"));
        Assert.Equal(30, ViewProbe.Errno(m, $"os.unlink('{q}')"));
        Assert.Equal(30, ViewProbe.Errno(m, $"os.rename('{q}', 'c/x')"));
        Assert.Equal(30, ViewProbe.Errno(m, "os.mkdir('.vfsmount/d')"));
        Assert.Equal(30, ViewProbe.Errno(m, "os.rmdir('.vfsmount/quarantine')"));
        Assert.Equal(30, ViewProbe.Errno(m, "os.truncate('.vfsmount/status.json', 0)"));
        Assert.Equal(30, ViewProbe.Errno(m, "os.chmod('.vfsmount/status.json', 0o666)"));
        Assert.Equal(2, ViewProbe.Errno(m, "open('.vfsmount/quarantine/no-such-item')"));

        Assert.Equal("nope\n", m.Ok($"cat {q}"));
        Assert.Single(Directory.GetFiles(m.StorePath(".vfsmount", "quarantine"), "*.bin"));
        Assert.Contains("refused /.vfsmount/status.json: .vfsmount/ is generated and read-only (EROFS)", m.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void StatusCommand_PrintsATable_AndWithJsonTheFile()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c && echo '{\"content\":\"x\"}' >> c/transcript.jsonl");

        var (exit, table, err) = Shell.Run("dotnet", [MountedStore.VfsmountDll, "status", m.Mnt], "/", 60);
        Assert.True(exit == 0, err);
        Assert.Contains($"store         {m.Store}", table, StringComparison.Ordinal);
        var row = Assert.Single(table.Split('\n'), l => l.StartsWith("c ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["c", "1"], row[..2]);

        (exit, var json, err) = Shell.Run("dotnet", [MountedStore.VfsmountDll, "status", m.Mnt, "--json"], "/", 60);
        Assert.True(exit == 0, err);
        Assert.Equal(1, JsonDocument.Parse(json).RootElement.GetProperty("appends").GetInt64());

        (exit, _, err) = Shell.Run("dotnet", [MountedStore.VfsmountDll, "status", m.Root], "/", 60);
        Assert.Equal(1, exit);
        Assert.Contains("a vfsmount mount?", err, StringComparison.Ordinal);
    }
}

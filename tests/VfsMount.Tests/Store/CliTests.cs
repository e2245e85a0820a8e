using System.Text.Json;

namespace VfsMount.Tests.Store;

/// <summary>`vfsmount contexts` and `vfsmount check` on stores written by another program.</summary>
public sealed class CliTests : IDisposable
{
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Entry(string ctx, string content, ulong ts) => ChibiWriter.Entry(ctx, content, ts) + "\n";

    /// <summary>A store as chibi leaves it: a has 2 archived + 3 active entries, b an empty transcript.</summary>
    private (long ABytes, long PartitionBytes) WriteChibiStore()
    {
        string a = _dir.TranscriptDir("a");
        Directory.CreateDirectory(Path.Combine(a, "partitions"));
        string partition = Entry("a", "Context created", 100) + Entry("a", "first", 101);
        File.WriteAllText(Path.Combine(a, "partitions", "100-101.jsonl"), partition);
        File.WriteAllText(Path.Combine(a, "manifest.json"),
            "{\n  \"version\": 1,\n  \"active_partition\": \"active.jsonl\",\n  \"partitions\": [\n    {\n"
            + "      \"file\": \"partitions/100-101.jsonl\",\n      \"start_ts\": 100,\n      \"end_ts\": 101,\n      \"entry_count\": 2,\n      \"token_count\": 7\n    }\n  ],\n"
            + "  \"rotation_policy\": {\n    \"max_entries\": 2,\n    \"max_age_seconds\": 2592000,\n    \"max_tokens\": 100000\n  }\n}");
        string active = Entry("a", "second", 102) + Entry("a", "third — ü", 103) + Entry("a", "fourth", 104);
        File.WriteAllText(Path.Combine(a, "active.jsonl"), active);
        File.WriteAllText(Path.Combine(a, ".transcript.lock"), "");

        Directory.CreateDirectory(_dir.TranscriptDir("b"));
        File.WriteAllText(Path.Combine(_dir.TranscriptDir("b"), "active.jsonl"), "");

        Directory.CreateDirectory(Path.Combine(_dir.TranscriptDir("bad name")));
        File.WriteAllText(Path.Combine(_dir.TranscriptDir("bad name"), "active.jsonl"), Entry("bad name", "x", 1));
        Directory.CreateDirectory(_dir.ContextDir("System"));
        Directory.CreateSymbolicLink(_dir.ContextDir("linked"), _dir.ContextDir("a"));

        long partitionBytes = System.Text.Encoding.UTF8.GetByteCount(partition);
        return (partitionBytes + System.Text.Encoding.UTF8.GetByteCount(active), partitionBytes);
    }

    [Fact]
    public void Contexts_Json_StoreWrittenByChibi()
    {
        var (aBytes, _) = WriteChibiStore();
        var r = Cli.Run(["contexts", "--store", _dir.Root, "--json"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(["a", "b"], rows.Select(x => x.GetProperty("name").GetString()));
        Assert.Equal(5, rows[0].GetProperty("entries").GetInt64());
        Assert.Equal(1, rows[0].GetProperty("partitions").GetInt64());
        Assert.Equal(aBytes, rows[0].GetProperty("bytes").GetInt64());
        Assert.Equal(0, rows[1].GetProperty("entries").GetInt64());
        Assert.Equal(0, rows[1].GetProperty("partitions").GetInt64());
        Assert.Equal(0, rows[1].GetProperty("bytes").GetInt64());
        Assert.Equal(["name", "entries", "partitions", "bytes"], rows[0].EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Contexts_Table_ListsValidNamesOnly()
    {
        WriteChibiStore();
        var r = Cli.Run(["contexts", "--store", _dir.Root]);
        Assert.Equal(0, r.ExitCode);
        var names = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(' ')[0]).ToList();
        Assert.Equal(["a", "b"], names);
    }

    [Fact]
    public void Contexts_EmptyStore_EmptyArray()
    {
        var r = Cli.Run(["contexts", "--store", _dir.Root, "--json"]);
        Assert.Equal(0, r.ExitCode);
        Assert.Empty(JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray());
        Assert.True(Directory.Exists(Path.Combine(_dir.Root, "contexts")), "the store is created with contexts/");
    }

    [Fact]
    public void Contexts_StoreFromEnvironment_ChibiHome()
    {
        WriteChibiStore();
        var r = Cli.Run(["contexts", "--json"], env: new Dictionary<string, string> { ["CHIBI_HOME"] = _dir.Root });
        Assert.Equal(["a", "b"], JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().Select(x => x.GetProperty("name").GetString()));
    }

    [Fact]
    public void Check_ChibiStore_Exit0()
    {
        WriteChibiStore();
        var r = Cli.Check(_dir.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("store is consistent", r.Stdout);
    }

    [Fact]
    public void Check_EntryCountDisagrees_Exit1EvenAfterRepair()
    {
        WriteChibiStore();
        string manifest = Path.Combine(_dir.TranscriptDir("a"), "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"entry_count\": 2", "\"entry_count\": 9", StringComparison.Ordinal));
        var r = Cli.Check(_dir.Root);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("manifest says 9 entries in partitions/100-101.jsonl, the file has 2", r.Stdout);
        Assert.Equal(1, Cli.Check(_dir.Root, repair: true).ExitCode);
    }

    [Fact]
    public void Check_CorruptManifest_Exit2()
    {
        WriteChibiStore();
        File.WriteAllText(Path.Combine(_dir.TranscriptDir("a"), "manifest.json"), "{\"version\": 1, \"partitions\": ");
        var r = Cli.Check(_dir.Root);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("manifest.json", r.Stderr);
        Assert.Equal(2, Cli.Check(_dir.Root, repair: true).ExitCode);
    }

    [Fact]
    public void Check_ManifestWithoutPartitions_Exit2()
    {
        WriteChibiStore();
        File.WriteAllText(Path.Combine(_dir.TranscriptDir("a"), "manifest.json"), "[1, 2]");
        Assert.Equal(2, Cli.Check(_dir.Root).ExitCode);
    }

    [Fact]
    public void Append_UnknownContext_Exit2()
    {
        var r = Cli.Append(_dir.Root, "nope", ["{}"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no context", r.Stderr);
    }

    [Fact]
    public void Append_RefusedLine_Exit1OthersAppended()
    {
        _dir.Open().CreateContext("c");
        var r = Cli.Append(_dir.Root, "c", ["{\"content\":\"ok\"}", "[1]", "{\"content\":7}", "{\"content\":\"ok2\"}"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["Context created", "ok", "ok2"], Disk.Contents(Disk.ReadAll(_dir.Open().Transcript("c"))));
    }

    [Fact]
    public void Append_Inbox_CompletedWithoutEntryType()
    {
        _dir.Open().CreateContext("c");
        var r = Cli.Run(["append", "--store", _dir.Root, "c", "--inbox"], "{\"content\":\"hello\"}\n");
        Assert.Equal(0, r.ExitCode);
        var e = Assert.Single(Disk.Entries(File.ReadAllBytes(Path.Combine(_dir.ContextDir("c"), "inbox.jsonl"))));
        Assert.Equal(["id", "timestamp", "from", "to", "content"], e.Select(kv => kv.Key));
        Assert.Equal("c", e["to"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(_dir.ContextDir("c"), ".inbox.lock")));
    }
}

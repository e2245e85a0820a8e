using System.Text;
using System.Text.Json.Nodes;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>Rotation into partitions in chibi's format, thresholds, and reads across partitions.</summary>
public sealed class RotationTests : IDisposable
{
    private const string Ctx = "ctx";
    private readonly TempStore _dir = new();
    private readonly ulong _t = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 100;

    public RotationTests() => Directory.CreateDirectory(_dir.ContextDir(Ctx));

    public void Dispose() => _dir.Dispose();

    private string TDir => _dir.TranscriptDir(Ctx);
    private string Active => Path.Combine(TDir, "active.jsonl");
    private string Part(string name) => Path.Combine(TDir, "partitions", name);

    private static CompletedEntry Entry(string content, ulong ts) =>
        EntryCompleter.Transcript(Encoding.UTF8.GetBytes(new JsonObject { ["content"] = content, ["timestamp"] = ts }.ToJsonString()), Ctx, "alice", ts);

    private static void AppendEach(TranscriptLog log, IEnumerable<(string Content, ulong Ts)> entries)
    {
        foreach (var (c, ts) in entries) log.Append([Entry(c, ts)]);
    }

    [Fact]
    public void Rotate_MaxEntries3_PartitionNamedByFirstAndLastTimestamp()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 3)).Transcript(Ctx);
        AppendEach(log, [("alpha beta", _t), ("gamma 日本語 delta", _t + 1)]);
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
        Assert.False(Directory.Exists(Path.Combine(TDir, "partitions")) && Directory.GetFiles(Path.Combine(TDir, "partitions")).Length > 0);
        byte[] before = File.ReadAllBytes(Active);

        log.Append([Entry("épsilon x", _t + 2)]);

        string stem = $"{_t}-{_t + 2}";
        Assert.True(File.Exists(Part(stem + ".jsonl")));
        Assert.False(File.Exists(Active) && new FileInfo(Active).Length > 0, "the active partition starts empty after a rotation");
        byte[] partition = File.ReadAllBytes(Part(stem + ".jsonl"));
        Assert.Equal(before, partition[..before.Length]);
        Assert.Equal(["alpha beta", "gamma 日本語 delta", "épsilon x"], Disk.Contents(partition));
        Assert.Equal([stem + ".bloom", stem + ".jsonl"],
            Directory.GetFiles(Path.Combine(TDir, "partitions")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Rotate_MaxEntries3_ManifestIsChibisPrettyJson()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 3)).Transcript(Ctx);
        // tokens: ceil(10/3)=4, ceil(21/3)=7, ceil(10/3)=4
        AppendEach(log, [("alpha beta", _t), ("gamma 日本語 delta", _t + 1), ("épsilon x", _t + 2)]);

        string stem = $"{_t}-{_t + 2}";
        string expected =
            "{\n" +
            "  \"version\": 1,\n" +
            "  \"active_partition\": \"active.jsonl\",\n" +
            "  \"partitions\": [\n" +
            "    {\n" +
            $"      \"file\": \"partitions/{stem}.jsonl\",\n" +
            $"      \"start_ts\": {_t},\n" +
            $"      \"end_ts\": {_t + 2},\n" +
            "      \"entry_count\": 3,\n" +
            "      \"token_count\": 15,\n" +
            $"      \"bloom_file\": \"partitions/{stem}.bloom\"\n" +
            "    }\n" +
            "  ],\n" +
            "  \"rotation_policy\": {\n" +
            "    \"max_entries\": 3,\n" +
            "    \"max_age_seconds\": 2592000,\n" +
            "    \"max_tokens\": 100000\n" +
            "  }\n" +
            "}";
        Assert.Equal(expected, File.ReadAllText(Path.Combine(TDir, "manifest.json")));
    }

    [Fact]
    public void Rotate_BloomFile_ContainsEveryTerm()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 3)).Transcript(Ctx);
        string[] contents = ["Alpha beta, GAMMA!", "naïve café 日本語 x y", "tool_call=42 über-long_word"];
        AppendEach(log, contents.Select((c, i) => (c, _t + (ulong)i)));

        byte[] json = File.ReadAllBytes(Part($"{_t}-{_t + 2}.bloom"));
        Assert.DoesNotContain((byte)'\n', json);
        var bloom = BloomFilter.FromJson(json);
        var terms = contents.SelectMany(BloomFilter.Terms).ToList();
        Assert.Contains("alpha", terms);
        Assert.Contains("gamma", terms);
        Assert.Contains("日本語", terms);
        Assert.DoesNotContain("x", terms);
        foreach (var term in terms) Assert.True(bloom.MightContain(term), $"bloom filter misses \"{term}\"");
        int falsePositives = Enumerable.Range(0, 50).Count(i => bloom.MightContain($"absent{i}zz"));
        Assert.True(falsePositives <= 3, $"{falsePositives} of 50 absent terms reported present");
    }

    [Fact]
    public void Rotate_BloomDisabled_NoBloomFileNorField()
    {
        File.WriteAllText(Path.Combine(_dir.Root, "config.toml"), "[storage]\nenable_bloom_filters = false\n");
        var log = _dir.Open(new StorageOptions(MaxEntries: 2)).Transcript(Ctx);
        AppendEach(log, [("a", _t), ("b", _t)]);
        Assert.Empty(Directory.GetFiles(Path.Combine(TDir, "partitions"), "*.bloom"));
        var p = Disk.Manifest(TDir)["partitions"]![0]!.AsObject();
        Assert.Equal(["file", "start_ts", "end_ts", "entry_count", "token_count"], p.Select(kv => kv.Key));
    }

    [Fact]
    public void Rotate_IdenticalTimestamps_SecondGetsSuffix()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 3)).Transcript(Ctx);
        AppendEach(log, [("a1", _t), ("a2", _t), ("a3", _t), ("b1", _t), ("b2", _t), ("b3", _t), ("c1", _t)]);

        string stem = $"{_t}-{_t}";
        Assert.Equal(["a1", "a2", "a3"], Disk.Contents(File.ReadAllBytes(Part(stem + ".jsonl"))));
        Assert.Equal(["b1", "b2", "b3"], Disk.Contents(File.ReadAllBytes(Part(stem + "-1.jsonl"))));
        var records = Disk.Manifest(TDir)["partitions"]!.AsArray();
        Assert.Equal([$"partitions/{stem}.jsonl", $"partitions/{stem}-1.jsonl"], records.Select(r => r!["file"]!.GetValue<string>()));
        Assert.Equal([$"partitions/{stem}.bloom", $"partitions/{stem}-1.bloom"], records.Select(r => r!["bloom_file"]!.GetValue<string>()));
        Assert.True(File.Exists(Part(stem + "-1.bloom")));
        Assert.Equal(["a1", "a2", "a3", "b1", "b2", "b3", "c1"], Disk.Contents(Disk.ReadAll(log)));
    }

    [Fact]
    public void Rotate_NameTakenByStrayBloom_NotReused()
    {
        Directory.CreateDirectory(Path.Combine(TDir, "partitions"));
        File.WriteAllText(Part($"{_t}-{_t}.bloom"), "{}");
        var log = _dir.Open(new StorageOptions(MaxEntries: 1)).Transcript(Ctx);
        log.Append([Entry("x", _t)]);
        Assert.Equal($"partitions/{_t}-{_t}-1.jsonl", Disk.Manifest(TDir)["partitions"]![0]!["file"]!.GetValue<string>());
    }

    [Fact]
    public void Rotate_OrphanPartitionOnDisk_TakenBackInStartOrder()
    {
        // A crash after the rename left a partition the manifest does not list.
        Directory.CreateDirectory(Path.Combine(TDir, "partitions"));
        string orphan = $"{_t - 50}-{_t - 40}.jsonl";
        File.WriteAllText(Part(orphan),
            ChibiWriter.Entry(Ctx, "old one", _t - 50) + "\n" + ChibiWriter.Entry(Ctx, "old two", _t - 40) + "\n");

        var log = _dir.Open(new StorageOptions(MaxEntries: 2)).Transcript(Ctx);
        AppendEach(log, [("new one", _t), ("new two", _t + 1)]);

        var records = Disk.Manifest(TDir)["partitions"]!.AsArray();
        Assert.Equal([$"partitions/{orphan}", $"partitions/{_t}-{_t + 1}.jsonl"], records.Select(r => r!["file"]!.GetValue<string>()));
        Assert.Equal(2, records[0]!["entry_count"]!.GetValue<long>());
        Assert.Equal(_t - 50, records[0]!["start_ts"]!.GetValue<ulong>());
        Assert.Equal(_t - 40, records[0]!["end_ts"]!.GetValue<ulong>());
        Assert.True(File.Exists(Part($"{_t - 50}-{_t - 40}.bloom")));
        Assert.Equal(["old one", "old two", "new one", "new two"], Disk.Contents(Disk.ReadAll(log)));
    }

    [Fact]
    public void Rotate_ManifestFromNewerChibi_UnknownFieldsSurvive()
    {
        Directory.CreateDirectory(TDir);
        File.WriteAllText(Path.Combine(TDir, "manifest.json"),
            "{\n  \"version\": 1,\n  \"active_partition\": \"active.jsonl\",\n  \"partitions\": [],\n"
            + "  \"rotation_policy\": {\n    \"max_entries\": 2,\n    \"max_age_seconds\": 2592000\n  },\n  \"future\": \"kept\"\n}");
        var log = _dir.Open().Transcript(Ctx);
        AppendEach(log, [("a", _t), ("b", _t)]);
        var manifest = Disk.Manifest(TDir);
        Assert.Equal("kept", manifest["future"]!.GetValue<string>());
        Assert.Single(manifest["partitions"]!.AsArray());
    }

    // ---- thresholds ----

    private RotationPolicy Resolve(StorageOptions? options = null, JsonObject? manifest = null) =>
        RotationPolicy.Resolve(options ?? StorageOptions.None, manifest, _dir.ContextDir(Ctx), _dir.Root);

    private void Config(string toml) => File.WriteAllText(Path.Combine(_dir.Root, "config.toml"), toml);

    private void Local(string toml) => File.WriteAllText(Path.Combine(_dir.ContextDir(Ctx), "local.toml"), toml);

    [Fact]
    public void Thresholds_NothingGiven_ChibisDefaults() =>
        Assert.Equal(new RotationPolicy(1000, 2_592_000, 100_000, 3, true), Resolve());

    [Fact]
    public void Thresholds_ConfigToml_Used()
    {
        Config("[storage]\npartition_max_entries = 50\npartition_max_age_seconds = 600\npartition_max_tokens = 5000\nbytes_per_token = 4\nenable_bloom_filters = false\n");
        Assert.Equal(new RotationPolicy(50, 600, 5000, 4, false), Resolve());
    }

    [Fact]
    public void Thresholds_LocalToml_OverridesConfigKeyByKey()
    {
        Config("[storage]\npartition_max_entries = 50\npartition_max_tokens = 5000\nbytes_per_token = 4\n");
        Local("[storage]\npartition_max_entries = 40\nbytes_per_token = 2\n");
        Assert.Equal(new RotationPolicy(40, 2_592_000, 5000, 2, true), Resolve());
    }

    [Fact]
    public void Thresholds_ManifestPolicy_OverridesToml()
    {
        Config("[storage]\npartition_max_entries = 50\npartition_max_tokens = 5000\n");
        Local("[storage]\npartition_max_entries = 40\npartition_max_age_seconds = 700\n");
        var manifest = JsonNode.Parse("{\"partitions\":[],\"rotation_policy\":{\"max_entries\":30,\"max_age_seconds\":900}}")!.AsObject();
        Assert.Equal(new RotationPolicy(30, 900, 5000, 3, true), Resolve(manifest: manifest));
    }

    [Fact]
    public void Thresholds_Options_OverrideEverything()
    {
        Local("[storage]\npartition_max_entries = 40\n");
        var manifest = JsonNode.Parse("{\"partitions\":[],\"rotation_policy\":{\"max_entries\":30,\"max_age_seconds\":900,\"max_tokens\":77}}")!.AsObject();
        Assert.Equal(new RotationPolicy(20, 120, 10, 3, true), Resolve(new StorageOptions(MaxEntries: 20, MaxTokens: 10, MaxAgeSeconds: 120), manifest));
    }

    [Fact]
    public void Thresholds_BelowFloors_Raised()
    {
        Config("[storage]\npartition_max_entries = 0\npartition_max_age_seconds = 10\npartition_max_tokens = -4\nbytes_per_token = 0\n");
        Assert.Equal(new RotationPolicy(1, 60, 1, 1, true), Resolve());
        Assert.Equal(60, Resolve(new StorageOptions(MaxAgeSeconds: 1)).MaxAgeSeconds);
    }

    [Fact]
    public void Thresholds_CorruptLocalToml_FallsBackToConfig()
    {
        Config("[storage]\npartition_max_entries = 50\n");
        Local("[storage\npartition_max_entries = ");
        Assert.Equal(50, Resolve().MaxEntries);
    }

    [Fact]
    public void Rotate_LocalTomlThreshold_Applied()
    {
        Config("[storage]\npartition_max_entries = 9\n");
        Local("[storage]\npartition_max_entries = 2\n");
        var log = _dir.Open().Transcript(Ctx);
        AppendEach(log, [("a", _t), ("b", _t + 1)]);
        var manifest = Disk.Manifest(TDir);
        Assert.Equal(2, manifest["partitions"]![0]!["entry_count"]!.GetValue<long>());
        Assert.Equal(2, manifest["rotation_policy"]!["max_entries"]!.GetValue<long>());
    }

    [Fact]
    public void Rotate_ManifestPolicyPresent_WinsOverLocalToml()
    {
        Local("[storage]\npartition_max_entries = 2\n");
        Directory.CreateDirectory(TDir);
        File.WriteAllText(Path.Combine(TDir, "manifest.json"),
            "{\"version\":1,\"active_partition\":\"active.jsonl\",\"partitions\":[],\"rotation_policy\":{\"max_entries\":4,\"max_age_seconds\":2592000}}");
        var log = _dir.Open().Transcript(Ctx);
        AppendEach(log, [("a", _t), ("b", _t), ("c", _t)]);
        Assert.Empty(Disk.Manifest(TDir)["partitions"]!.AsArray());
        log.Append([Entry("d", _t)]);
        Assert.Equal(4, Disk.Manifest(TDir)["partitions"]![0]!["entry_count"]!.GetValue<long>());
    }

    [Fact]
    public void Tokens_CeilOfBytesOverBytesPerToken()
    {
        var p = new RotationPolicy(1000, 60, 100, 3, true);
        Assert.Equal([0L, 1, 1, 1, 2, 4], new[] { 0, 1, 2, 3, 4, 10 }.Select(p.TokensOf));
        Assert.Equal(7, (p with { BytesPerToken = 1 }).TokensOf(7));
    }

    [Fact]
    public void Rotate_PartitionMaxTokensFromConfig_TriggersAtThreshold()
    {
        Config("[storage]\npartition_max_tokens = 10\nbytes_per_token = 4\n");
        var log = _dir.Open().Transcript(Ctx);
        log.Append([Entry(new string('a', 20), _t)]);          // 5 tokens
        log.Append([Entry("é" + new string('b', 14), _t + 1)]); // 16 bytes: 4 tokens → 9
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
        log.Append([Entry("c", _t + 2)]);                       // 1 token → 10
        var manifest = Disk.Manifest(TDir);
        var record = manifest["partitions"]![0]!;
        Assert.Equal(3, record["entry_count"]!.GetValue<long>());
        Assert.Equal(10, record["token_count"]!.GetValue<long>());
        Assert.Equal(10, manifest["rotation_policy"]!["max_tokens"]!.GetValue<long>());
    }

    [Fact]
    public void Rotate_MaxTokensOption_OneLongEntryRotatesAtOnce()
    {
        var log = _dir.Open(new StorageOptions(MaxTokens: 3)).Transcript(Ctx);
        log.Append([Entry("abcdefg", _t)]); // ceil(7/3) = 3
        Assert.Single(Disk.Manifest(TDir)["partitions"]!.AsArray());
    }

    [Fact]
    public void Rotate_FirstEntryYoungerThanMaxAge_NoRotation()
    {
        Config("[storage]\npartition_max_age_seconds = 60\n");
        var log = _dir.Open().Transcript(Ctx);
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        log.Append([Entry("recent", now - 30)]);
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
        Assert.False(log.RotateIfDue());
        log.Append([Entry("older", now - 100)]);   // age counts from the first entry: still 30 s
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
    }

    [Fact]
    public void RotateIfDue_FirstEntryOlderThanMaxAge_Rotates()
    {
        Config("[storage]\npartition_max_age_seconds = 1\n");   // floored to 60
        Directory.CreateDirectory(TDir);
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // written by chibi: no rotation yet
        ChibiWriter.Append(TDir, ChibiWriter.Entry(Ctx, "old", now - 61));
        var log = _dir.Open().Transcript(Ctx);
        Assert.True(log.RotateIfDue());
        Assert.Equal(60, Disk.Manifest(TDir)["rotation_policy"]!["max_age_seconds"]!.GetValue<long>());
        Assert.False(log.RotateIfDue());
    }

    // ---- reading across partitions ----

    [Fact]
    public void Read_AnyRange_EqualsConcatenationOfPartitionsThenActive()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 3)).Transcript(Ctx);
        AppendEach(log, Enumerable.Range(0, 11).Select(i => (new string((char)('a' + i), 1 + (i * 7 % 23)) + " é", _t + (ulong)i)));
        Assert.Equal(3, Disk.Manifest(TDir)["partitions"]!.AsArray().Count);

        byte[] expected = Disk.Concatenation(TDir);
        long sum = Directory.GetFiles(Path.Combine(TDir, "partitions"), "*.jsonl").Sum(f => new FileInfo(f).Length) + new FileInfo(Active).Length;
        Assert.Equal(sum, expected.Length);

        foreach (var reader in new[] { log, _dir.Open().Transcript(Ctx) })
        {
            Assert.Equal(expected.Length, reader.Length);
            foreach (int len in new[] { 1, 5, 64, 300, expected.Length + 10 })
            {
                var buffer = new byte[len];
                for (int offset = 0; offset <= expected.Length; offset++)
                {
                    int n = reader.Read(buffer, offset);
                    int want = Math.Min(len, expected.Length - offset);
                    Assert.True(want == n, $"read of {len} at {offset}: {n} bytes, expected {want}");
                    Assert.True(expected.AsSpan(offset, want).SequenceEqual(buffer.AsSpan(0, n)), $"read of {len} at {offset} differs");
                }
            }
            Assert.Equal(0, reader.Read(new byte[10], expected.Length + 5));
        }
    }

    [Fact]
    public void Read_BeforeAndAfterRotation_OldBytesArePrefix()
    {
        var store = _dir.Open(new StorageOptions(MaxEntries: 4));
        var writer = store.Transcript(Ctx);
        var otherReader = _dir.Open(new StorageOptions(MaxEntries: 4)).Transcript(Ctx);
        AppendEach(writer, [("one", _t), ("two", _t + 1), ("three", _t + 2)]);
        byte[] before = Disk.ReadAll(writer);
        byte[] beforeOther = Disk.ReadAll(otherReader);
        Assert.Equal(before, beforeOther);

        writer.Append([Entry("four", _t + 3)]);   // rotates: every byte moves into a partition
        Assert.True(File.Exists(Path.Combine(TDir, "manifest.json")));
        AppendEach(writer, [("five", _t + 4)]);

        foreach (var reader in new[] { writer, otherReader })
        {
            byte[] after = Disk.ReadAll(reader);
            Assert.Equal(before, after[..before.Length]);
            Assert.Equal(["one", "two", "three", "four", "five"], Disk.Contents(after));
            Assert.Equal(Disk.Concatenation(TDir), after);
        }
        // Offsets read before the rotation still address the same bytes.
        var tail = new byte[before.Length - 5];
        Assert.Equal(tail.Length, otherReader.Read(tail, 5));
        Assert.Equal(before[5..], tail);
    }

    [Fact]
    public void Read_RotationByChibiLikeWriterElsewhere_SeenByCachedLayout()
    {
        var reader = _dir.Open().Transcript(Ctx);
        var writer = _dir.Open(new StorageOptions(MaxEntries: 2)).Transcript(Ctx);
        writer.Append([Entry("x1", _t)]);
        Assert.Equal(["x1"], Disk.Contents(Disk.ReadAll(reader)));
        writer.Append([Entry("x2", _t)]);
        Assert.Equal(["x1", "x2"], Disk.Contents(Disk.ReadAll(reader)));
        writer.Append([Entry("x3", _t)]);
        writer.Append([Entry("x4", _t)]);
        writer.Append([Entry("x5", _t)]);
        Assert.Equal(["x1", "x2", "x3", "x4", "x5"], Disk.Contents(Disk.ReadAll(reader)));
    }

    [Fact]
    public void Read_ManifestListsMissingFile_Skipped()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 2)).Transcript(Ctx);
        AppendEach(log, [("a", _t), ("b", _t + 1), ("c", _t + 2), ("d", _t + 3), ("e", _t + 4)]);
        File.Delete(Part($"{_t}-{_t + 1}.jsonl"));
        var reader = _dir.Open().Transcript(Ctx);
        Assert.Equal(["c", "d", "e"], Disk.Contents(Disk.ReadAll(reader)));
    }

    [Fact]
    public void Read_ManifestPointsOutsideTranscript_NotFollowed()
    {
        Directory.CreateDirectory(TDir);
        string secret = Path.Combine(_dir.Root, "secret.txt");
        File.WriteAllText(secret, "{\"content\":\"secret\"}\n");
        File.WriteAllText(Path.Combine(TDir, "manifest.json"),
            "{\"version\":1,\"active_partition\":\"active.jsonl\",\"partitions\":[{\"file\":\"../../../secret.txt\",\"start_ts\":1,\"end_ts\":1,\"entry_count\":1}],"
            + "\"rotation_policy\":{\"max_entries\":1000,\"max_age_seconds\":2592000}}");
        ChibiWriter.Append(TDir, ChibiWriter.Entry(Ctx, "mine", _t));
        var log = _dir.Open().Transcript(Ctx);
        Assert.Equal(["mine"], Disk.Contents(Disk.ReadAll(log)));
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VfsMount.Store;
using VfsMount.Store.Json;

namespace VfsMount.Tests.Store;

/// <summary>The bytes chibi would write (STORE-FORMAT.md): anchors, state.json, completed entries, refusals.</summary>
public sealed partial class FormatTests : IDisposable
{
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    private static partial Regex UuidV4();

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string Completed(string line, string context = "ctx", string from = "alice", ulong now = 1_700_000_000) =>
        Encoding.UTF8.GetString(EntryCompleter.Transcript(B(line), context, from, now).Json);

    [Fact]
    public void CreateContext_WritesAnchorAsCompactLine()
    {
        var store = _dir.Open();
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        store.CreateContext("notes");
        long after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        byte[] bytes = File.ReadAllBytes(Path.Combine(_dir.TranscriptDir("notes"), "active.jsonl"));
        Assert.Equal((byte)'\n', bytes[^1]);
        Assert.Single(bytes, (byte)'\n');
        var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "entry_type"], root.EnumerateObject().Select(p => p.Name));
        Assert.Matches(UuidV4(), root.GetProperty("id").GetString()!);
        long ts = root.GetProperty("timestamp").GetInt64();
        Assert.InRange(ts, before, after);
        string expected = $"{{\"id\":\"{root.GetProperty("id").GetString()}\",\"timestamp\":{ts},\"from\":\"system\",\"to\":\"notes\","
                          + "\"content\":\"Context created\",\"entry_type\":\"context_created\"}\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes));
        Assert.False(File.Exists(Path.Combine(_dir.TranscriptDir("notes"), "manifest.json")), "the manifest is absent until the first rotation");
    }

    [Fact]
    public void CreateContext_WritesPrettyStateRecord()
    {
        var store = _dir.Open();
        store.CreateContext("notes");
        string text = File.ReadAllText(Path.Combine(_dir.Root, "state.json"));
        var state = JsonNode.Parse(text)!.AsObject();
        long created = state["contexts"]![0]!["created_at"]!.GetValue<long>();
        string expected =
            "{\n" +
            "  \"contexts\": [\n" +
            "    {\n" +
            "      \"name\": \"notes\",\n" +
            $"      \"created_at\": {created},\n" +
            $"      \"last_activity_at\": {created},\n" +
            "      \"destroy_after_seconds_inactive\": 0,\n" +
            "      \"destroy_at\": 0\n" +
            "    }\n" +
            "  ],\n" +
            "  \"current_context\": \"default\",\n" +
            "  \"previous_context\": null\n" +
            "}";
        Assert.Equal(expected, text);
    }

    [Fact]
    public void CreateContext_KeepsOtherStateFields()
    {
        File.WriteAllText(Path.Combine(_dir.Root, "state.json"),
            "{\n  \"contexts\": [],\n  \"current_context\": \"work\",\n  \"previous_context\": \"old\",\n  \"future_field\": [1, 2]\n}");
        _dir.Open().CreateContext("b");
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.Root, "state.json")))!.AsObject();
        Assert.Equal("work", state["current_context"]!.GetValue<string>());
        Assert.Equal("old", state["previous_context"]!.GetValue<string>());
        Assert.Equal("[1,2]", state["future_field"]!.ToJsonString());
        Assert.Equal("b", state["contexts"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Complete_EmptyObject_FillsEveryField()
    {
        var e = JsonDocument.Parse(Completed("{}")).RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "entry_type", "role"], e.EnumerateObject().Select(p => p.Name));
        Assert.Matches(UuidV4(), e.GetProperty("id").GetString()!);
        Assert.Equal(1_700_000_000UL, e.GetProperty("timestamp").GetUInt64());
        Assert.Equal("alice", e.GetProperty("from").GetString());
        Assert.Equal("ctx", e.GetProperty("to").GetString());
        Assert.Equal("", e.GetProperty("content").GetString());
        Assert.Equal("message", e.GetProperty("entry_type").GetString());
        Assert.Equal("user", e.GetProperty("role").GetString());
    }

    [Fact]
    public void Complete_TwoLines_GetDistinctIds()
    {
        var a = JsonDocument.Parse(Completed("{}")).RootElement.GetProperty("id").GetString();
        var b = JsonDocument.Parse(Completed("{}")).RootElement.GetProperty("id").GetString();
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Complete_GivenFields_KeptAndReorderedAsChibi()
    {
        string line = "{\"content\":\"héllo \\\"q\\\" 日本\",\"entry_type\":\"tool_call\",\"to\":\"other\",\"from\":\"bob\",\"timestamp\":42,\"id\":\"my-id\"}";
        Assert.Equal("{\"id\":\"my-id\",\"timestamp\":42,\"from\":\"bob\",\"to\":\"other\",\"content\":\"héllo \\\"q\\\" 日本\",\"entry_type\":\"tool_call\"}",
            Completed(line));
    }

    [Fact]
    public void Complete_UnknownFields_KeptAfterChibisInTheirOrder()
    {
        string line = "{\"zeta\":1,\"content\":\"hi\",\"alpha\":{\"x\":[1,2.5,null]},\"metadata\":{\"summary\":\"s\"},\"flow_control\":true}";
        string json = Completed(line, now: 7);
        var names = JsonDocument.Parse(json).RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["id", "timestamp", "from", "to", "content", "entry_type", "role", "zeta", "alpha", "metadata", "flow_control"], names);
        Assert.EndsWith(",\"timestamp\":7,\"from\":\"alice\",\"to\":\"ctx\",\"content\":\"hi\",\"entry_type\":\"message\",\"role\":\"user\","
                        + "\"zeta\":1,\"alpha\":{\"x\":[1,2.5,null]},\"metadata\":{\"summary\":\"s\"},\"flow_control\":true}", json);
    }

    [Fact]
    public void Complete_WhitespaceInInput_StoredCompact()
    {
        string json = Completed("  { \"content\" : \"a b\" ,\t\"extra\" : [ 1 , 2 ] }  ");
        Assert.DoesNotContain(": ", json);
        Assert.EndsWith("\"content\":\"a b\",\"entry_type\":\"message\",\"role\":\"user\",\"extra\":[1,2]}", json);
    }

    [Fact]
    public void Complete_Inbox_HasNoEntryType()
    {
        var entry = EntryCompleter.Inbox(B("{\"content\":\"ping\",\"x\":1}"), "ctx", "carol", 5);
        var e = JsonDocument.Parse(entry.Json).RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "x"], e.EnumerateObject().Select(p => p.Name));
        Assert.Equal("carol", e.GetProperty("from").GetString());
        Assert.Equal("ctx", e.GetProperty("to").GetString());
        Assert.Equal(5UL, e.GetProperty("timestamp").GetUInt64());
    }

    [Fact]
    public void Complete_Result_CountsContentBytesAndTimestamp()
    {
        var entry = EntryCompleter.Transcript(B("{\"content\":\"日本\",\"timestamp\":99}"), "ctx", "alice", 5);
        Assert.Equal(6, entry.ContentBytes);
        Assert.Equal(99UL, entry.Timestamp);
        Assert.True(entry.IsUserMessage);
        Assert.False(EntryCompleter.Transcript(B("{\"from\":\"ctx\",\"to\":\"user\"}"), "ctx", "alice", 5).IsUserMessage);
    }

    [Theory]
    [InlineData("{\"content\":\"hi\"}", "user")]
    [InlineData("{\"from\":\"ctx\",\"to\":\"user\",\"content\":\"hello\"}", "agent")]
    [InlineData("{\"from\":\"system\",\"content\":\"note\"}", "user")]
    public void Complete_MessageWithoutRole_GetsChibisReading(string line, string role)
    {
        var entry = EntryCompleter.Transcript(B(line), "ctx", "alice", 5);
        var e = JsonDocument.Parse(entry.Json).RootElement;
        Assert.Equal(role, e.GetProperty("role").GetString());
        Assert.Equal("role", e.EnumerateObject().ElementAt(6).Name);   // right after entry_type
        Assert.Equal(role == "user", entry.IsUserMessage);
    }

    [Fact]
    public void Complete_GivenRoleOrOtherEntryType_NotCompleted()
    {
        var given = EntryCompleter.Transcript(B("{\"content\":\"x\",\"role\":\"system\"}"), "ctx", "alice", 5);
        Assert.Equal(1, Encoding.UTF8.GetString(given.Json).Split("\"role\"").Length - 1);
        Assert.False(given.IsUserMessage);
        var call = EntryCompleter.Transcript(B("{\"entry_type\":\"tool_call\"}"), "ctx", "alice", 5);
        Assert.False(JsonDocument.Parse(call.Json).RootElement.TryGetProperty("role", out _));
        Assert.Throws<StoreException>(() => EntryCompleter.Transcript(B("{\"role\":\"boss\"}"), "ctx", "alice", 5));
        Assert.False(JsonDocument.Parse(EntryCompleter.Inbox(B("{}"), "ctx", "alice", 5).Json).RootElement.TryGetProperty("role", out _));
    }

    public static TheoryData<string> NonStringFields => new()
    {
        "{\"content\":5}", "{\"content\":null}", "{\"content\":[\"a\"]}", "{\"content\":{\"text\":\"a\"}}", "{\"content\":true}",
        "{\"id\":1}", "{\"from\":null}", "{\"to\":[]}", "{\"entry_type\":3}",
    };

    [Theory]
    [MemberData(nameof(NonStringFields))]
    public void Complete_NonStringField_Einval(string line) => AssertRefused(B(line));

    public static TheoryData<string> NotObjects => new() { "[]", "[{}]", "\"text\"", "42", "null", "true", "", "   ", "{", "{\"a\":1}{\"b\":2}", "{\"a\":1} x", "{'a':1}", "{\"a\":1,}" };

    [Theory]
    [MemberData(nameof(NotObjects))]
    public void Complete_NotAnObject_Einval(string line) => AssertRefused(B(line));

    public static TheoryData<string> BadTimestamps => new()
    {
        "-1", "-0.5", "1.5", "1.0", "1e3", "18446744073709551616", "99999999999999999999999999", "\"1700000000\"", "null",
    };

    [Theory]
    [MemberData(nameof(BadTimestamps))]
    public void Complete_BadTimestamp_Einval(string ts) => AssertRefused(B($"{{\"timestamp\":{ts}}}"));

    [Fact]
    public void Complete_LargestTimestamp_Kept()
    {
        Assert.Contains("\"timestamp\":18446744073709551615", Completed("{\"timestamp\":18446744073709551615}"));
        Assert.Contains("\"timestamp\":0,", Completed("{\"timestamp\":0}"));
    }

    [Fact]
    public void Complete_DuplicateKey_Einval()
    {
        AssertRefused(B("{\"content\":\"a\",\"content\":\"b\"}"));
        AssertRefused(B("{\"x\":1,\"y\":2,\"x\":3}"));
    }

    [Fact]
    public void Complete_DuplicateKeyNested_Einval() => AssertRefused(B("{\"metadata\":{\"summary\":\"a\",\"summary\":\"b\"}}"));

    public static TheoryData<byte[]> BadUtf8 => new()
    {
        new byte[] { (byte)'{', (byte)'"', (byte)'c', (byte)'o', (byte)'n', (byte)'t', (byte)'e', (byte)'n', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xFF, (byte)'"', (byte)'}' },
        new byte[] { (byte)'{', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)'}' },
        new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xED, 0xA0, 0x80, (byte)'"', (byte)'}' }, // a UTF-16 surrogate
        new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC0, 0xAF, (byte)'"', (byte)'}' },       // overlong '/'
        new byte[] { 0xEF, 0xBB, 0xBF, (byte)'{', (byte)'}', 0xFF },
    };

    [Theory]
    [MemberData(nameof(BadUtf8))]
    public void Complete_InvalidUtf8_Einval(byte[] line) => AssertRefused(line);

    [Theory]
    [InlineData("{\"content\":\"\\ud800\"}")]
    [InlineData("{\"x\":[\"\\udc00\"]}")]
    [InlineData("{\"\\ud800\":1}")]
    public void Complete_LoneSurrogateEscape_Einval(string line) => AssertRefused(B(line));

    [Fact]
    public void Complete_SurrogatePairEscape_Accepted() =>
        Assert.Equal("\U0001F600", JsonDocument.Parse(Completed("{\"content\":\"\\ud83d\\ude00\"}")).RootElement.GetProperty("content").GetString());

    [Fact]
    public void Complete_Depth100000_Einval()
    {
        string deep = "{\"a\":" + new string('[', 100_000) + new string(']', 100_000) + "}";
        AssertRefused(B(deep));
    }

    [Fact]
    public void Complete_ModestNesting_Accepted()
    {
        string nested = "{\"a\":" + new string('[', 100) + new string(']', 100) + "}";
        Assert.Contains(new string('[', 100), Completed(nested));
    }

    private static void AssertRefused(byte[] line)
    {
        var t = Assert.ThrowsAny<StoreException>(() => EntryCompleter.Transcript(line, "ctx", "alice", 1));
        Assert.Equal(22, t.Errno);
        var i = Assert.ThrowsAny<StoreException>(() => EntryCompleter.Inbox(line, "ctx", "alice", 1));
        Assert.Equal(22, i.Errno);
    }
}

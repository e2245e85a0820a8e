using System.Buffers;
using System.Text;
using System.Text.Json;
using VfsMount.Store;
using VfsMount.Store.Json;

namespace VfsMount.Tests.Store;

/// <summary>
/// The reader/writer completion (LineScan) against the document-based one it replaced, kept
/// here as the oracle: the same bytes for every accepted line, the same refusal for every
/// refused one, the same facts rotation counts — over hand-picked and generated lines.
/// </summary>
public sealed class CompletionEquivalenceTests
{
    private const string Context = "ctx";
    private const ulong Now = 1_700_000_000;

    public static TheoryData<string> Lines() =>
    [
        "{}",
        "{\"content\":\"hi\"}",
        "{ \"content\" : \"spaced\" , \"to\" : \"user\" }",
        "{\"id\":\"x\",\"timestamp\":5,\"from\":\"a\",\"to\":\"b\",\"content\":\"c\",\"entry_type\":\"tool_call\"}",
        "{\"extra\":1,\"content\":\"later\",\"metadata\":{\"summary\":\"s\",\"transcript_anchor_id\":\"a\"},\"timestamp\":7}",
        "{\"content\":\"esc \\\"q\\\" \\\\ \\n \\t \\u0041 \\u00e9 \\ud83d\\ude00 </ & \\u2028 \\u007f\"}",
        "{\"content\":\"raw é 😀 \u2028 <>&'\"}",
        "{\"\\u0063ontent\":\"escaped name\"}",
        "{\"role\":\"user\",\"content\":\"r\"}",
        "{\"role\":\"agent\",\"entry_type\":\"message\"}",
        "{\"role\":\"system\"}",
        "{\"role\":\"boss\"}",
        "{\"role\":1}",
        "{\"entry_type\":\"tool_result\",\"to\":\"user\"}",
        "{\"to\":\"user\",\"content\":\"agent's\"}",
        "{\"n\":[1,2.5,-3e10,true,false,null,{\"a\":[[]]}],\"content\":\"\"}",
        "{\"big\":12345678901234567890123,\"f\":1.0E+2}",
        "{\"timestamp\":-1}",
        "{\"timestamp\":1.5}",
        "{\"timestamp\":\"5\"}",
        "{\"timestamp\":18446744073709551615}",
        "{\"timestamp\":18446744073709551616}",
        "{\"id\":5}",
        "{\"content\":{\"a\":1}}",
        "{\"from\":null,\"to\":[1]}",
        "{\"entry_type\":false}",
        "{\"content\":\"a\",\"content\":\"b\"}",
        "{\"m\":{\"s\":1,\"s\":2}}",
        "{\"m\":[{\"s\":1},{\"s\":2}]}",
        "{\"a\":\"\\ud800\"}",
        "{\"\\udc00\":1}",
        "{\"content\":\"\\ud800\\u0041\"}",
        "[1,2]",
        "\"str\"",
        "42",
        "true",
        "null",
        "",
        "   ",
        "{",
        "{\"a\":1,}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":\"\t\"}",
        "{\"a\"://c\n1}",
        "{\"content\":\"x\",\"id\":\"first dup\",\"id\":\"second\"}",
        "{\"id\":7,\"timestamp\":\"bad\"}",
        "{\"to\":5,\"id\":6}",
        "[{\"a\":1,\"a\":2}]",
    ];

    [Theory]
    [MemberData(nameof(Lines))]
    public void Complete_HandPickedLine_SameAsTheDocumentBasedCompletion(string line)
    {
        foreach (bool transcript in (bool[])[true, false])
            AssertSame(Encoding.UTF8.GetBytes(line), transcript);
    }

    [Fact]
    public void Complete_InvalidUtf8_SameRefusal()
    {
        AssertSame([(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xff, (byte)'"', (byte)'}'], true);
        AssertSame([(byte)'{', (byte)'"', 0xc3, (byte)'"', (byte)':', (byte)'1', (byte)'}'], true);
    }

    [Fact]
    public void Complete_ObjectOfManyKeys_DuplicateFoundAsByTheSet()
    {
        var sb = new StringBuilder("{");
        for (int i = 0; i < 100; i++) sb.Append($"\"k{i}\":{i},");
        AssertSame(Encoding.UTF8.GetBytes(sb + "\"k42\":0}"), true);
        AssertSame(Encoding.UTF8.GetBytes(sb + "\"content\":\"fine\"}"), true);
    }

    [Fact]
    public void Complete_DeepNesting_SameAtTheDepthLimit()
    {
        foreach (int depth in (int[])[255, 256, 257])
        {
            string line = "{\"d\":" + new string('[', depth - 1) + new string(']', depth - 1) + "}";
            AssertSame(Encoding.UTF8.GetBytes(line), true);
        }
    }

    [Fact]
    public void Complete_GeneratedLines_SameAsTheDocumentBasedCompletion()
    {
        var random = new Random(8);
        for (int i = 0; i < 3000; i++)
        {
            var sb = new StringBuilder();
            RandomValue(random, sb, depth: 0, top: true);
            AssertSame(Encoding.UTF8.GetBytes(sb.ToString()), random.Next(2) == 0);
        }
    }

    [Fact]
    public void Complete_SeveralLinesIntoOneBuffer_EachWholeAndARefusedOneLeavesNoTrace()
    {
        using var lines = new CompletedLines();
        EntryCompleter.CompleteTranscript("{\"content\":\"one\"}"u8, Context, "alice", Now, lines);
        Assert.ThrowsAny<StoreException>(() => EntryCompleter.CompleteTranscript("{\"content\":1}"u8, Context, "alice", Now, lines));
        EntryCompleter.CompleteTranscript("{\"id\":\"i\",\"content\":\"two\"}"u8, Context, "alice", Now, lines);

        Assert.Equal(2, lines.Count);
        string text = Encoding.UTF8.GetString(lines.Bytes);
        Assert.EndsWith("\n", text);
        var split = text.TrimEnd('\n').Split('\n');
        Assert.Equal(2, split.Length);
        Assert.Contains("\"content\":\"one\"", split[0]);
        Assert.StartsWith("{\"id\":\"i\",", split[1]);
        Assert.Equal(split[0].Length + 1, lines.Facts[0].Length);
        Assert.Equal(split[1].Length + 1, lines.Facts[1].Length);
    }

    private static readonly string[] Keys = ["id", "timestamp", "from", "to", "content", "entry_type", "role", "metadata", "x", "\\u0069d", "tool_call_id"];
    private static readonly string[] Strings = ["", "user", "agent", "system", "message", "tool_call", "héllo", "a\\nb", "\\u00e9", "\\ud83d\\ude00", "\\\"", "😀", "\\ud800", "<&>"];

    private static void RandomValue(Random r, StringBuilder sb, int depth, bool top = false)
    {
        int kind = top ? (r.Next(20) == 0 ? r.Next(1, 7) : 0) : r.Next(depth > 3 ? 1 : 0, 7);
        switch (kind)
        {
            case 0:
                sb.Append('{');
                int n = r.Next(top ? 8 : 4);
                for (int i = 0; i < n; i++)
                {
                    if (i > 0) sb.Append(',');
                    sb.Append('"').Append(Keys[r.Next(Keys.Length)]).Append("\":");
                    RandomValue(r, sb, depth + 1);
                }
                sb.Append('}');
                break;
            case 1: sb.Append('"').Append(Strings[r.Next(Strings.Length)]).Append('"'); break;
            case 2: sb.Append(r.Next(4) switch { 0 => "-1", 1 => "1.5", 2 => "1e3", _ => r.NextInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) }); break;
            case 3: sb.Append(r.Next(2) == 0 ? "true" : "false"); break;
            case 4: sb.Append("null"); break;
            case 5:
                sb.Append('[');
                int m = r.Next(3);
                for (int i = 0; i < m; i++)
                {
                    if (i > 0) sb.Append(',');
                    RandomValue(r, sb, depth + 1);
                }
                sb.Append(']');
                break;
            default: sb.Append('"').Append(Strings[r.Next(Strings.Length)]).Append('"'); break;
        }
        if (top && r.Next(30) == 0) sb.Append(r.Next(2) == 0 ? " x" : ",");   // broken now and then
    }

    private static void AssertSame(byte[] line, bool transcript)
    {
        string shown = Encoding.UTF8.GetString(line);
        (string? Json, ulong Ts, int Bytes, bool User, string? Error) expected, actual;
        expected = Run(() => Reference.Complete(line, Context, "alice", Now, transcript));
        actual = Run(() =>
        {
            var e = transcript ? EntryCompleter.Transcript(line, Context, "alice", Now) : EntryCompleter.Inbox(line, Context, "alice", Now);
            return (e.Json, e.Timestamp, e.ContentBytes, e.IsUserMessage);
        });
        Assert.True(expected.Error == actual.Error, $"{shown}: refusal {actual.Error ?? "none"}, expected {expected.Error ?? "none"}");
        if (expected.Error is not null) return;
        Assert.Equal(MaskId(expected.Json!), MaskId(actual.Json!));
        Assert.Equal((expected.Ts, expected.Bytes, expected.User), (actual.Ts, actual.Bytes, actual.User));
    }

    private static (string? Json, ulong Ts, int Bytes, bool User, string? Error) Run(Func<(byte[] Json, ulong Ts, int Bytes, bool User)> complete)
    {
        try
        {
            var (json, ts, bytes, user) = complete();
            return (Encoding.UTF8.GetString(json), ts, bytes, user, null);
        }
        catch (StoreException e)
        {
            return (null, 0, 0, false, $"{e.Errno}: {e.Message}");
        }
    }

    /// <summary>A completed id is a fresh UUID: masked (a given id is kept and compared).</summary>
    private static string MaskId(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json, "^\\{\"id\":\"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\"", "{\"id\":\"UUID\"");

    /// <summary>The completion as it was before LineScan (JsonDocument, strings), verbatim but for its entry point.</summary>
    private static class Reference
    {
        private static readonly string[] TranscriptOrder = ["id", "timestamp", "from", "to", "content", "entry_type"];
        private static readonly string[] InboxOrder = ["id", "timestamp", "from", "to", "content"];

        public static (byte[] Json, ulong Ts, int Bytes, bool User) Complete(ReadOnlySpan<byte> line, string context, string from, ulong now, bool transcriptLog)
        {
            var order = transcriptLog ? TranscriptOrder : InboxOrder;
            using var doc = EntryCompleter.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid($"a line must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}");

            ulong timestamp = now;
            if (root.TryGetProperty("timestamp", out var ts) && !(ts.ValueKind == JsonValueKind.Number && ts.TryGetUInt64(out timestamp)))
                throw Invalid("\"timestamp\" must be an unsigned integer (Unix seconds)");
            foreach (var name in (ReadOnlySpan<string>)["id", "from", "to", "content", "entry_type"])
                if (root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.String)
                    throw Invalid($"\"{name}\" must be a string");

            bool transcript = order == TranscriptOrder;
            string? role = null;
            if (transcript && root.TryGetProperty("role", out var r))
            {
                role = r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                if (role is not ("user" or "agent" or "system")) throw Invalid("\"role\" must be \"user\", \"agent\" or \"system\"");
            }

            string content = root.TryGetProperty("content", out var c) ? c.GetString()! : "";
            string entryType = root.TryGetProperty("entry_type", out var et) ? et.GetString()! : "message";
            string to = root.TryGetProperty("to", out var t) ? t.GetString()! : context;

            bool completeRole = transcript && role is null && entryType == "message";
            if (completeRole) role = to == "user" ? "agent" : "user";

            var buffer = new ArrayBufferWriter<byte>(line.Length + 128);
            using (var w = new Utf8JsonWriter(buffer, JsonFormat.Compact))
            {
                w.WriteStartObject();
                foreach (var name in order)
                {
                    if (root.TryGetProperty(name, out var given))
                    {
                        w.WritePropertyName(name);
                        given.WriteTo(w);
                        continue;
                    }
                    switch (name)
                    {
                        case "id": w.WriteString(name, Guid.NewGuid().ToString()); break;
                        case "timestamp": w.WriteNumber(name, now); break;
                        case "from": w.WriteString(name, from); break;
                        case "to": w.WriteString(name, context); break;
                        case "content": w.WriteString(name, ""); break;
                        case "entry_type": w.WriteString(name, "message"); break;
                    }
                }
                if (completeRole) w.WriteString("role", role);
                foreach (var p in root.EnumerateObject())
                    if (Array.IndexOf(order, p.Name) < 0) p.WriteTo(w);
                w.WriteEndObject();
            }
            bool userMessage = entryType == "message" && role == "user";
            return (buffer.WrittenSpan.ToArray(), timestamp, Encoding.UTF8.GetByteCount(content), userMessage);
        }

        private static StoreException Invalid(string reason) => new(22, reason);
    }
}

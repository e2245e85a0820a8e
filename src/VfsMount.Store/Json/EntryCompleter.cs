using System.Buffers;
using System.Text.Json;

namespace VfsMount.Store.Json;

/// <summary>A validated, completed log line: its compact JSON (no newline) and what rotation counts.</summary>
public readonly record struct CompletedEntry(byte[] Json, ulong Timestamp, int ContentBytes, bool IsUserMessage)
{
    /// <summary>The entries as the bytes of one append: each JSON followed by '\n'.</summary>
    public static byte[] Lines(IReadOnlyList<CompletedEntry> entries)
    {
        int length = 0;
        foreach (var e in entries) length += e.Json.Length + 1;
        var payload = new byte[length];
        int at = 0;
        foreach (var e in entries)
        {
            e.Json.CopyTo(payload, at);
            at += e.Json.Length;
            payload[at++] = (byte)'\n';
        }
        return payload;
    }
}

/// <summary>
/// Validates one JSONL line written by a user and completes the fields chibi requires
/// (SPEC §2.1): id, timestamp, from, to, content, and entry_type and a message's role for
/// transcripts. A completed role follows entry_type; every other field is kept, in its order,
/// after chibi's required ones.
/// </summary>
public static class EntryCompleter
{
    private static readonly string[] TranscriptOrder = ["id", "timestamp", "from", "to", "content", "entry_type"];
    private static readonly string[] InboxOrder = ["id", "timestamp", "from", "to", "content"];

    /// <summary>Throws <see cref="StoreException"/> (EINVAL) with the reason when the line is refused.</summary>
    public static CompletedEntry Transcript(ReadOnlySpan<byte> line, string context, string from, ulong now) =>
        Complete(line, context, from, now, TranscriptOrder);

    public static CompletedEntry Inbox(ReadOnlySpan<byte> line, string context, string from, ulong now) =>
        Complete(line, context, from, now, InboxOrder);

    private static CompletedEntry Complete(ReadOnlySpan<byte> line, string context, string from, ulong now, string[] order)
    {
        using var doc = Parse(line);
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

        // chibi 0.10 counts user prompts by role; without it, chibi reads a message to "user" as the agent's.
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
        return new CompletedEntry(buffer.WrittenSpan.ToArray(), timestamp, System.Text.Encoding.UTF8.GetByteCount(content), userMessage);
    }

    /// <summary>
    /// Parses one line strictly (UTF-8, bounded depth, no duplicate keys at any depth, no lone
    /// surrogate escapes); throws EINVAL with the parser's reason.
    /// </summary>
    public static JsonDocument Parse(ReadOnlySpan<byte> line)
    {
        // The reader does not check the bytes inside strings: an invalid sequence in a field we
        // copy (an unknown field) would be stored as is, and chibi fails its whole read on it.
        if (!System.Text.Unicode.Utf8.IsValid(line)) throw Invalid("not UTF-8");
        JsonDocument doc;
        try
        {
            var bytes = new ReadOnlyMemory<byte>(line.ToArray());
            doc = JsonDocument.Parse(bytes, JsonFormat.Strict);
        }
        catch (JsonException e)
        {
            throw Invalid($"not JSON: {FirstSentence(e.Message)}");
        }
        catch (ArgumentException e)
        {
            throw Invalid($"not UTF-8 JSON: {FirstSentence(e.Message)}");
        }
        try
        {
            CheckStrict(doc.RootElement);
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What serde_json refuses and JsonDocument lets through: a repeated key (chibi's structs fail
    /// on it, and which value wins is anyone's guess) and an escape that is not valid UTF-16
    /// ("\ud800" alone), which would otherwise surface later as an InvalidOperationException.
    /// Depth is bounded by <see cref="JsonFormat.Strict"/>, so the recursion is too.
    /// </summary>
    internal static void CheckStrict(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var p in element.EnumerateObject())
                    {
                        if (!seen.Add(p.Name)) throw Invalid($"duplicate key \"{p.Name}\"");
                        CheckStrict(p.Value);
                    }
                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray()) CheckStrict(item);
                    break;
                case JsonValueKind.String:
                    element.GetString();
                    break;
            }
        }
        catch (InvalidOperationException e)
        {
            throw Invalid($"not valid Unicode: {FirstSentence(e.Message)}");
        }
    }

    /// <summary>What a partition's statistics need from a stored line; null for a line chibi would skip.</summary>
    /// <remarks>A user prompt is a message whose role — given, or chibi 0.10's reading without one — is "user".</remarks>
    public static (ulong Timestamp, int ContentBytes, bool IsUserPrompt)? Inspect(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            ulong ts = root.TryGetProperty("timestamp", out var t) && t.TryGetUInt64(out var v) ? v : 0;
            int bytes = root.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                ? System.Text.Encoding.UTF8.GetByteCount(c.GetString()!) : 0;
            bool message = root.TryGetProperty("entry_type", out var et) && et.ValueKind == JsonValueKind.String && et.ValueEquals("message");
            bool prompt = message && (root.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String
                ? r.ValueEquals("user")
                : !(root.TryGetProperty("to", out var to) && to.ValueKind == JsonValueKind.String && to.ValueEquals("user")));
            return (ts, bytes, prompt);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static StoreException Invalid(string reason) => new(22, reason);

    internal static string FirstSentence(string message)
    {
        int dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message;
    }
}

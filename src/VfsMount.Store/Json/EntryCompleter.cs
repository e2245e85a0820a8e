using System.Buffers;
using System.Text.Json;

namespace VfsMount.Store.Json;

/// <summary>A validated, completed log line: its compact JSON (no newline) and what rotation counts.</summary>
/// <remarks>For callers outside the write path (the CLI, a new context's anchor, tests); the write path completes into <see cref="CompletedLines"/>.</remarks>
public readonly record struct CompletedEntry(byte[] Json, ulong Timestamp, int ContentBytes, bool IsUserMessage);

/// <summary>
/// Validates one JSONL line written by a user and completes the fields chibi requires
/// (SPEC §2.1): id, timestamp, from, to, content, and entry_type and a message's role for
/// transcripts. A completed role follows entry_type; every other field is kept, in its order,
/// after chibi's required ones.
/// </summary>
/// <remarks>
/// Two passes of a Utf8JsonReader over the caller's bytes and one Utf8JsonWriter into the
/// append's buffer (<see cref="CompletedLines"/>): no document, no string of a value — the
/// line's bytes are copied once, into what the append writes (<see cref="LineScan"/>).
/// </remarks>
public static partial class EntryCompleter
{
    private static readonly Field[] TranscriptOrder = [Field.Id, Field.Timestamp, Field.From, Field.To, Field.Content, Field.EntryType];
    private static readonly Field[] InboxOrder = [Field.Id, Field.Timestamp, Field.From, Field.To, Field.Content];

    /// <summary>Throws <see cref="StoreException"/> (EINVAL) with the reason when the line is refused.</summary>
    public static CompletedEntry Transcript(ReadOnlySpan<byte> line, string context, string from, ulong now) =>
        ToEntry(line, context, from, now, transcript: true);

    public static CompletedEntry Inbox(ReadOnlySpan<byte> line, string context, string from, ulong now) =>
        ToEntry(line, context, from, now, transcript: false);

    /// <summary>Completes a transcript line into <paramref name="into"/> (its JSON and '\n'); throws EINVAL when refused, leaving into as it was.</summary>
    public static void CompleteTranscript(ReadOnlySpan<byte> line, string context, string from, ulong now, CompletedLines into) =>
        Complete(line, context, from, now, transcript: true, into);

    public static void CompleteInbox(ReadOnlySpan<byte> line, string context, string from, ulong now, CompletedLines into) =>
        Complete(line, context, from, now, transcript: false, into);

    private static CompletedEntry ToEntry(ReadOnlySpan<byte> line, string context, string from, ulong now, bool transcript)
    {
        using var lines = new CompletedLines();
        Complete(line, context, from, now, transcript, lines);
        var f = lines.Facts[0];
        return new CompletedEntry(lines.Line(0).ToArray(), f.Timestamp, f.ContentBytes, f.IsUserMessage);
    }

    private static void Complete(ReadOnlySpan<byte> line, string context, string from, ulong now, bool transcript, CompletedLines into)
    {
        var scan = LineScan.Rent();
        try
        {
            scan.Read(line, transcript);
            var order = transcript ? TranscriptOrder : InboxOrder;
            var facts = scan.Facts(context, now, transcript);
            try
            {
                scan.Write(line, order, from, context, now, facts.CompleteRole, into);
            }
            catch
            {
                into.DropUnended();
                throw;
            }
            into.EndLine(facts.Timestamp, facts.ContentBytes, facts.IsUserMessage);
        }
        finally
        {
            LineScan.Return(scan);
        }
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

    internal static StoreException Invalid(string reason) => new(22, reason);

    internal static string FirstSentence(string message)
    {
        int dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message;
    }
}

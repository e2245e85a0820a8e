using System.Buffers;
using System.Text;
using System.Text.Json;
using VfsMount.Store.Json;

namespace VfsMount.Store.Documents;

/// <summary>
/// SPEC §2.2 "Refuse early": follows a document written from its start, one write at a time,
/// and tells when the content so far can no longer become valid whatever is appended — so the
/// write that broke it fails at once, where a shell sees it, not at a close nobody checks.
/// Incremental, never rereading: JSON through <see cref="Utf8JsonReader"/> with a saved
/// <see cref="JsonReaderState"/>, JSON lines one complete line at a time, UTF-8 keeping only
/// a sequence cut short at the end. TOML has no such reader: it is checked at close alone.
/// A refused write leaves the state as it was before it.
/// </summary>
public sealed class PrefixValidator
{
    /// <summary>A pending token or line longer than this stops the early check; close still checks all.</summary>
    private const int MaxPending = 1 << 20;
    private static readonly JsonReaderOptions Reader = new() { MaxDepth = JsonFormat.Strict.MaxDepth };

    private readonly DocumentFormat _format;
    private byte[] _utf8Tail = [];              // an unfinished UTF-8 sequence at the end (≤ 3 bytes)
    private byte[] _pending = [];               // JSON: bytes the reader has not consumed; JSON lines: the unfinished line
    private JsonReaderState _json = new(Reader);
    private bool _jsonStarted;                  // the reader has consumed a byte (a BOM may no longer come)
    private bool _rootSeen;
    private int _lines;

    private PrefixValidator(DocumentFormat format) => _format = format;

    /// <summary>A validator for an empty document of this format; null for TOML (checked at close only) and Opaque.</summary>
    public static PrefixValidator? ForEmpty(DocumentFormat format) =>
        format is DocumentFormat.Toml or DocumentFormat.Opaque ? null : new PrefixValidator(format);

    /// <summary>
    /// A validator that has followed this content already (an existing document opened to
    /// append), so appending to it is checked too; null when it is too long to follow cheaply
    /// or could not become valid anyway (the check at close then decides).
    /// </summary>
    public static PrefixValidator? ForContent(DocumentFormat format, ReadOnlySpan<byte> content)
    {
        if (content.Length > MaxPending) return null;
        var validator = ForEmpty(format);
        return validator is not null && validator.TryAppend(content, out _) && validator.IsFollowing ? validator : null;
    }

    /// <summary>Bytes followed so far: the document's length while it is written sequentially.</summary>
    public long Length { get; private set; }

    /// <summary>False once a pending token or line grew too long to follow: only the check at close remains.</summary>
    public bool IsFollowing { get; private set; } = true;

    /// <summary>
    /// Whether the content followed so far is the whole document — <paramref name="length"/>
    /// bytes — and valid as such, so the check at commit need not read it back: text whose last
    /// UTF-8 sequence is complete, JSON lines whose unfinished last line is empty or an object.
    /// JSON and TOML are always checked whole at commit (strings' bytes, repeated keys).
    /// </summary>
    public bool Completes(long length)
    {
        if (!IsFollowing || Length != length || _utf8Tail.Length != 0) return false;
        switch (_format)
        {
            case DocumentFormat.Text:
                return true;
            case DocumentFormat.JsonLines:
                try
                {
                    DocumentValidator.ValidateLine(_pending, _lines + 1);
                    return true;
                }
                catch (StoreException)
                {
                    return false;   // the check at commit says why
                }
            default:
                return false;
        }
    }

    /// <summary>
    /// Takes the next bytes of the document. False, with the reason, when the content can no
    /// longer become valid; the state is then unchanged, as if the write never happened.
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> data, out string? reason)
    {
        reason = null;
        if (!IsFollowing) return true;
        if (!Utf8Prefix(_utf8Tail, data, out var tail))
        {
            reason = "not UTF-8";
            return false;
        }
        bool ok = _format switch
        {
            DocumentFormat.JsonObject or DocumentFormat.Json => JsonPrefix(data, out reason),
            DocumentFormat.JsonLines => LinesPrefix(data, out reason),
            _ => true,
        };
        if (!ok) return false;
        _utf8Tail = tail;
        Length += data.Length;
        return true;
    }

    private bool JsonPrefix(ReadOnlySpan<byte> data, out string? reason)
    {
        reason = null;
        byte[] buffer = [.. _pending, .. data];
        int start = 0;
        if (!_jsonStarted)
        {
            // JsonDocument at close skips a UTF-8 byte order mark; so does this check.
            ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
            if (buffer.Length < 3 && bom.StartsWith(buffer)) return Keep(buffer, _json, started: false);
            if (buffer.AsSpan().StartsWith(bom)) start = 3;
        }
        var reader = new Utf8JsonReader(buffer.AsSpan(start), isFinalBlock: false, _json);
        bool rootSeen = _rootSeen;
        try
        {
            while (reader.Read())
            {
                if (rootSeen || _format != DocumentFormat.JsonObject) continue;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reason = "must be a JSON object";
                    return false;
                }
                rootSeen = true;
            }
        }
        catch (JsonException e)
        {
            reason = $"not JSON: {EntryCompleter.FirstSentence(e.Message)}";
            return false;
        }
        _rootSeen = rootSeen;
        return Keep(buffer[(start + (int)reader.BytesConsumed)..], reader.CurrentState, _jsonStarted || reader.BytesConsumed > 0);
    }

    private bool Keep(byte[] pending, JsonReaderState state, bool started)
    {
        _pending = pending;
        _json = state;
        _jsonStarted = started;
        if (pending.Length > MaxPending) StopFollowing();
        return true;
    }

    private bool LinesPrefix(ReadOnlySpan<byte> data, out string? reason)
    {
        reason = null;
        int lines = _lines;
        ReadOnlySpan<byte> rest = data;
        byte[] line = _pending;
        for (int i; (i = rest.IndexOf((byte)'\n')) >= 0; rest = rest[(i + 1)..])
        {
            byte[] whole = [.. line, .. rest[..i]];
            line = [];
            try
            {
                DocumentValidator.ValidateLine(whole, ++lines);
            }
            catch (StoreException e)
            {
                reason = e.Message;
                return false;
            }
        }
        _lines = lines;
        _pending = [.. line, .. rest];
        if (_pending.Length > MaxPending) StopFollowing();
        return true;
    }

    private void StopFollowing()
    {
        IsFollowing = false;
        _pending = [];
    }

    /// <summary>
    /// Whether tail + data is valid UTF-8 but for a sequence cut short at its very end, which
    /// it returns as the new tail. data is not copied.
    /// </summary>
    private static bool Utf8Prefix(ReadOnlySpan<byte> tail, ReadOnlySpan<byte> data, out byte[] newTail)
    {
        newTail = [];
        if (tail.Length > 0)
        {
            int need = SequenceLength(tail[0]) - tail.Length;
            byte[] joined = [.. tail, .. data[..Math.Min(need, data.Length)]];
            var status = Rune.DecodeFromUtf8(joined, out _, out int used);
            if (data.Length < need)
            {
                newTail = joined;
                return status == OperationStatus.NeedMoreData;
            }
            if (status != OperationStatus.Done || used != joined.Length) return false;
            data = data[need..];
        }
        int cut = UnfinishedTailStart(data);
        if (!System.Text.Unicode.Utf8.IsValid(data[..cut])) return false;
        if (cut == data.Length) return true;
        newTail = data[cut..].ToArray();
        return Rune.DecodeFromUtf8(newTail, out _, out _) == OperationStatus.NeedMoreData;
    }

    /// <summary>Where a multi-byte sequence that the data ends before finishing starts (data.Length when none).</summary>
    private static int UnfinishedTailStart(ReadOnlySpan<byte> data)
    {
        for (int i = data.Length - 1; i >= Math.Max(0, data.Length - 3); i--)
        {
            if (data[i] < 0x80) return data.Length;
            if (data[i] >= 0xC0) return SequenceLength(data[i]) > data.Length - i ? i : data.Length;
        }
        return data.Length;
    }

    private static int SequenceLength(byte lead) => lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}

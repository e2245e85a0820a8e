using System.Buffers;
using System.Text;
using System.Text.Json;

namespace VfsMount.Store.Json;

/// <summary>The top-level fields a log line's completion knows.</summary>
internal enum Field { Other, Id, Timestamp, From, To, Content, EntryType, Role }

/// <summary>
/// One line's completion without a document: <see cref="Read"/> checks it strictly with a
/// Utf8JsonReader (what JsonDocument checked, plus duplicate keys and lone surrogate escapes, as
/// serde_json refuses them) and notes where each top-level field's value lies; <see cref="Write"/>
/// writes the completed entry with a Utf8JsonWriter straight into the append's buffer, value by
/// value from the line's bytes. Strings are unescaped into a scratch buffer only when escaped.
/// One per thread at a time (<see cref="Rent"/>); its buffers are reused.
/// </summary>
internal sealed class LineScan
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = JsonFormat.Strict.MaxDepth };

    /// <summary>Scratch buffers larger than this go back to the pool after a line, not kept per thread.</summary>
    private const int KeptBytes = 16 * 1024;

    [ThreadStatic] private static LineScan? t_cached;

    /// <summary>A top-level property: its field, its unescaped name in _names, its value's bytes in the line.</summary>
    private record struct Property(Field Field, int NameStart, int NameLength, int ValueStart, int ValueLength);

    /// <summary>An object being read: where its names start in _nameRanges; a set once it has many.</summary>
    private record struct Frame(int FirstName, HashSet<string>? Names);

    private const int LinearNames = 16;   // duplicate keys found by comparison up to this many per object, then by a set

    private readonly List<Property> _properties = [];
    private readonly List<Frame> _frames = [];
    private readonly List<(int Start, int Length)> _nameRanges = [];
    private byte[] _names = new byte[256];
    private int _namesLength;
    private byte[] _scratch = new byte[256];
    private readonly Utf8JsonWriter _writer = new(Stream.Null, JsonFormat.Compact);

    // What Read found, for Facts and the checks in chibi's order.
    private JsonTokenType _rootToken;
    private string? _strictError;
    private ulong _timestamp;
    private bool _timestampGiven, _timestampInvalid, _toIsUser, _toGiven, _isMessage, _entryTypeGiven, _roleGiven;
    private RoleValue _role;
    private int _contentBytes;
    private Field _notString;

    private enum RoleValue { None, User, Agent, System, Invalid }

    public static LineScan Rent()
    {
        var scan = t_cached ?? new LineScan();
        t_cached = null;
        return scan;
    }

    public static void Return(LineScan scan)
    {
        scan.Reset();
        t_cached = scan;
    }

    private void Reset()
    {
        _properties.Clear();
        _frames.Clear();
        _nameRanges.Clear();
        _namesLength = 0;
        if (_names.Length > KeptBytes) _names = new byte[256];
        if (_scratch.Length > KeptBytes) _scratch = new byte[256];
        _rootToken = JsonTokenType.None;
        _strictError = null;
        _timestamp = 0;
        _timestampGiven = _timestampInvalid = _toIsUser = _toGiven = _isMessage = _entryTypeGiven = _roleGiven = false;
        _role = RoleValue.None;
        _contentBytes = 0;
        _notString = Field.Other;
        Array.Clear(_notStrings);
    }

    /// <summary>
    /// Checks the line and notes its top-level fields; throws EINVAL with the reason, checked in
    /// the order the document-based validation used: UTF-8, JSON, strictness, an object,
    /// timestamp, the string fields, role.
    /// </summary>
    public void Read(ReadOnlySpan<byte> line, bool transcript)
    {
        if (!System.Text.Unicode.Utf8.IsValid(line)) throw EntryCompleter.Invalid("not UTF-8");
        try
        {
            ReadTokens(line);
        }
        catch (JsonException e)
        {
            throw EntryCompleter.Invalid($"not JSON: {EntryCompleter.FirstSentence(e.Message)}");
        }
        catch (ArgumentException e)
        {
            throw EntryCompleter.Invalid($"not UTF-8 JSON: {EntryCompleter.FirstSentence(e.Message)}");
        }
        if (_strictError is not null) throw EntryCompleter.Invalid(_strictError);
        if (_rootToken != JsonTokenType.StartObject) throw EntryCompleter.Invalid($"a line must be a JSON object, not {KindName(_rootToken)}");
        if (_timestampInvalid) throw EntryCompleter.Invalid("\"timestamp\" must be an unsigned integer (Unix seconds)");
        if (_notString != Field.Other) throw EntryCompleter.Invalid($"\"{NameOf(_notString)}\" must be a string");
        if (transcript && _roleGiven && _role is RoleValue.Invalid)
            throw EntryCompleter.Invalid("\"role\" must be \"user\", \"agent\" or \"system\"");
    }

    private void ReadTokens(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line, ReaderOptions);
        int open = -1;   // index in _properties of the top-level value being read, when a container
        Field pending = Field.Other;   // the field whose value comes next (top level only)
        bool atTop = false;
        while (reader.Read())
        {
            var token = reader.TokenType;
            if (_rootToken == JsonTokenType.None) _rootToken = token;
            switch (token)
            {
                case JsonTokenType.StartObject:
                    if (atTop) open = BeginValue(pending, ref reader);
                    _frames.Add(new Frame(_nameRanges.Count, null));
                    break;
                case JsonTokenType.EndObject:
                    EndObject();
                    if (reader.CurrentDepth == 1) EndContainer(ref open, ref reader);
                    break;
                case JsonTokenType.StartArray:
                    if (atTop) open = BeginValue(pending, ref reader);
                    break;
                case JsonTokenType.EndArray:
                    if (reader.CurrentDepth == 1) EndContainer(ref open, ref reader);
                    break;
                case JsonTokenType.PropertyName:
                    var name = Name(ref reader);
                    if (reader.CurrentDepth == 1)
                    {
                        pending = FieldOf(name);
                        _properties.Add(new Property(pending, _nameRanges.Count == 0 ? 0 : _nameRanges[^1].Start, name.Length, -1, 0));
                        atTop = true;
                        continue;   // the value is the next token
                    }
                    break;
                default:
                    if (atTop)
                    {
                        int at = BeginValue(pending, ref reader);
                        _properties[at] = _properties[at] with { ValueLength = (int)reader.BytesConsumed - _properties[at].ValueStart };
                        Primitive(pending, ref reader);
                    }
                    else if (token == JsonTokenType.String)
                    {
                        Unescaped(ref reader);   // a lone surrogate escape anywhere is refused
                    }
                    break;
            }
            atTop = false;
        }
    }

    /// <summary>Notes where the value of the top-level property just named starts; its index.</summary>
    private int BeginValue(Field field, ref Utf8JsonReader reader)
    {
        int at = _properties.Count - 1;
        _properties[at] = _properties[at] with { ValueStart = (int)reader.TokenStartIndex };
        if (field is Field.Timestamp) (_timestampGiven, _timestampInvalid) = (true, true);
        else if (field is not (Field.Other or Field.Role)) NotString(field);
        else if (field is Field.Role) (_roleGiven, _role) = (true, RoleValue.Invalid);
        return at;
    }

    private void EndContainer(ref int open, ref Utf8JsonReader reader)
    {
        if (open < 0) return;
        _properties[open] = _properties[open] with { ValueLength = (int)reader.BytesConsumed - _properties[open].ValueStart };
        open = -1;
    }

    /// <summary>A top-level field's primitive value: what completion and rotation need of it.</summary>
    private void Primitive(Field field, ref Utf8JsonReader reader)
    {
        bool isString = reader.TokenType == JsonTokenType.String;
        var text = isString ? Unescaped(ref reader) : default;   // empty when refused for a lone surrogate
        switch (field)
        {
            case Field.Timestamp:
                _timestampInvalid = !(reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out _timestamp));
                return;
            case Field.Role:
                _role = !isString ? RoleValue.Invalid
                    : text.SequenceEqual("user"u8) ? RoleValue.User
                    : text.SequenceEqual("agent"u8) ? RoleValue.Agent
                    : text.SequenceEqual("system"u8) ? RoleValue.System : RoleValue.Invalid;
                return;
            case Field.Other:
                return;
        }
        if (!isString) return;   // BeginValue noted it
        _notString = FirstNotString(field);
        switch (field)
        {
            case Field.To: (_toGiven, _toIsUser) = (true, text.SequenceEqual("user"u8)); break;
            case Field.EntryType: (_entryTypeGiven, _isMessage) = (true, text.SequenceEqual("message"u8)); break;
            case Field.Content: _contentBytes = text.Length; break;
        }
    }

    // The first field of [id, from, to, content, entry_type] whose value is not a string is the one
    // reported, as the document-based check went through them in that order.
    private readonly bool[] _notStrings = new bool[8];

    private void NotString(Field field)
    {
        _notStrings[(int)field] = true;
        _notString = FirstNotString(Field.Other);
    }

    private Field FirstNotString(Field cleared)
    {
        if (cleared != Field.Other) _notStrings[(int)cleared] = false;
        foreach (var f in (ReadOnlySpan<Field>)[Field.Id, Field.From, Field.To, Field.Content, Field.EntryType])
            if (_notStrings[(int)f]) return f;
        return Field.Other;
    }

    /// <summary>The property name, unescaped, kept in _names; a duplicate in its object is noted.</summary>
    private ReadOnlySpan<byte> Name(ref Utf8JsonReader reader)
    {
        int length = reader.ValueSpan.Length;
        if (_namesLength + length > _names.Length) Array.Resize(ref _names, Math.Max(_names.Length * 2, _namesLength + length));
        int start = _namesLength;
        if (!reader.ValueIsEscaped) reader.ValueSpan.CopyTo(_names.AsSpan(start));
        else if (!TryCopy(ref reader, _names.AsSpan(start), out length)) return default;
        _namesLength += length;
        var name = _names.AsSpan(start, length);
        var frame = _frames[^1];
        int inFrame = _nameRanges.Count - frame.FirstName;
        if (frame.Names is { } set)
        {
            if (!set.Add(Encoding.UTF8.GetString(name))) Duplicate(name);
        }
        else
        {
            for (int i = frame.FirstName; i < _nameRanges.Count; i++)
                if (_names.AsSpan(_nameRanges[i].Start, _nameRanges[i].Length).SequenceEqual(name)) Duplicate(name);
            if (inFrame + 1 >= LinearNames)
            {
                set = new HashSet<string>(StringComparer.Ordinal);
                for (int i = frame.FirstName; i < _nameRanges.Count; i++) set.Add(Encoding.UTF8.GetString(_names, _nameRanges[i].Start, _nameRanges[i].Length));
                set.Add(Encoding.UTF8.GetString(name));
                _frames[^1] = frame with { Names = set };
            }
        }
        _nameRanges.Add((start, length));
        return name;
    }

    private void Duplicate(ReadOnlySpan<byte> name) => _strictError ??= $"duplicate key \"{Encoding.UTF8.GetString(name)}\"";

    /// <summary>Leaves an object: its names are forgotten, except the top level's (written later).</summary>
    private void EndObject()
    {
        var frame = _frames[^1];
        _frames.RemoveAt(_frames.Count - 1);
        if (_frames.Count == 0) return;
        int first = frame.FirstName;
        _namesLength = first < _nameRanges.Count ? _nameRanges[first].Start : _namesLength;
        _nameRanges.RemoveRange(first, _nameRanges.Count - first);
    }

    /// <summary>A string value's bytes, unescaped (in the scratch buffer when it was escaped).</summary>
    private ReadOnlySpan<byte> Unescaped(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return reader.ValueSpan;
        if (_scratch.Length < reader.ValueSpan.Length) _scratch = new byte[Math.Max(_scratch.Length * 2, reader.ValueSpan.Length)];
        return TryCopy(ref reader, _scratch, out int n) ? _scratch.AsSpan(0, n) : default;
    }

    /// <summary>Unescapes the token; a lone surrogate escape ("\ud800") is noted as serde_json refuses it.</summary>
    private bool TryCopy(ref Utf8JsonReader reader, Span<byte> into, out int length)
    {
        try
        {
            length = reader.CopyString(into);
            return true;
        }
        catch (InvalidOperationException e)
        {
            _strictError ??= $"not valid Unicode: {EntryCompleter.FirstSentence(e.Message)}";
            length = 0;
            return false;
        }
    }

    private static Field FieldOf(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("id"u8) ? Field.Id
        : name.SequenceEqual("timestamp"u8) ? Field.Timestamp
        : name.SequenceEqual("from"u8) ? Field.From
        : name.SequenceEqual("to"u8) ? Field.To
        : name.SequenceEqual("content"u8) ? Field.Content
        : name.SequenceEqual("entry_type"u8) ? Field.EntryType
        : name.SequenceEqual("role"u8) ? Field.Role
        : Field.Other;

    private static string NameOf(Field field) => field switch
    {
        Field.Id => "id",
        Field.Timestamp => "timestamp",
        Field.From => "from",
        Field.To => "to",
        Field.Content => "content",
        Field.EntryType => "entry_type",
        Field.Role => "role",
        _ => "?",
    };

    private static ReadOnlySpan<byte> Utf8NameOf(Field field) => field switch
    {
        Field.Id => "id"u8,
        Field.Timestamp => "timestamp"u8,
        Field.From => "from"u8,
        Field.To => "to"u8,
        Field.Content => "content"u8,
        Field.EntryType => "entry_type"u8,
        _ => "role"u8,
    };

    private static string KindName(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => "undefined",
    };

    /// <summary>What the completed entry will say: its timestamp, content size, whether it is a user's message, and whether role is completed.</summary>
    public (ulong Timestamp, int ContentBytes, bool IsUserMessage, bool CompleteRole) Facts(string context, ulong now, bool transcript)
    {
        bool message = !_entryTypeGiven || _isMessage;
        // chibi 0.10 counts user prompts by role; without it, chibi reads a message to "user" as the agent's.
        bool completeRole = transcript && !_roleGiven && message;
        bool toUser = _toGiven ? _toIsUser : context == "user";
        var role = transcript && _roleGiven ? _role : completeRole ? (toUser ? RoleValue.Agent : RoleValue.User) : RoleValue.None;
        return (_timestampGiven ? _timestamp : now, _contentBytes, message && role == RoleValue.User, completeRole);
    }

    /// <summary>
    /// Writes the completed entry (compact JSON, no '\n') into <paramref name="into"/>: the fields
    /// of <paramref name="order"/>, given or completed, then a completed role, then every other
    /// field in its order — each value re-written from the line's tokens, as the writer escapes.
    /// </summary>
    public void Write(ReadOnlySpan<byte> line, Field[] order, string from, string context, ulong now, bool completeRole, CompletedLines into)
    {
        var w = _writer;
        Span<byte> id = stackalloc byte[36];
        w.Reset(into);
        w.WriteStartObject();
        foreach (var field in order)
        {
            int at = IndexOf(field);
            if (at >= 0)
            {
                w.WritePropertyName(Utf8NameOf(field));
                CopyValue(w, line, _properties[at]);
                continue;
            }
            switch (field)
            {
                case Field.Id:
                    Guid.NewGuid().TryFormat(id, out _);
                    w.WriteString("id"u8, id);
                    break;
                case Field.Timestamp: w.WriteNumber("timestamp"u8, now); break;
                case Field.From: w.WriteString("from"u8, from); break;
                case Field.To: w.WriteString("to"u8, context); break;
                case Field.Content: w.WriteString("content"u8, ""u8); break;
                case Field.EntryType: w.WriteString("entry_type"u8, "message"u8); break;
            }
        }
        if (completeRole)
        {
            bool toUser = _toGiven ? _toIsUser : context == "user";
            w.WriteString("role"u8, toUser ? "agent"u8 : "user"u8);
        }
        foreach (var p in _properties)
        {
            if (Array.IndexOf(order, p.Field) >= 0) continue;
            w.WritePropertyName(_names.AsSpan(p.NameStart, p.NameLength));
            CopyValue(w, line, p);
        }
        w.WriteEndObject();
        w.Flush();
        w.Reset(Stream.Null);   // holds no reference to the caller's buffer
    }

    private int IndexOf(Field field)
    {
        for (int i = 0; i < _properties.Count; i++)
            if (_properties[i].Field == field) return i;
        return -1;
    }

    /// <summary>A value re-written token by token (strings unescaped, then escaped as the writer does; numbers verbatim).</summary>
    private void CopyValue(Utf8JsonWriter w, ReadOnlySpan<byte> line, Property p)
    {
        var reader = new Utf8JsonReader(line.Slice(p.ValueStart, p.ValueLength), ReaderOptions);
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject: w.WriteStartObject(); break;
                case JsonTokenType.EndObject: w.WriteEndObject(); break;
                case JsonTokenType.StartArray: w.WriteStartArray(); break;
                case JsonTokenType.EndArray: w.WriteEndArray(); break;
                case JsonTokenType.PropertyName: w.WritePropertyName(Unescaped(ref reader)); break;
                case JsonTokenType.String: w.WriteStringValue(Unescaped(ref reader)); break;
                case JsonTokenType.Number: w.WriteRawValue(reader.ValueSpan, skipInputValidation: true); break;
                case JsonTokenType.True: w.WriteBooleanValue(true); break;
                case JsonTokenType.False: w.WriteBooleanValue(false); break;
                case JsonTokenType.Null: w.WriteNullValue(); break;
            }
        }
    }
}

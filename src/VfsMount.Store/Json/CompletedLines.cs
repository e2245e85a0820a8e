using System.Buffers;

namespace VfsMount.Store.Json;

/// <summary>What rotation counts of one completed line; Length is its bytes with the '\n'.</summary>
public readonly record struct LineFacts(ulong Timestamp, int ContentBytes, bool IsUserMessage, int Length);

/// <summary>
/// The completed lines of one append, back to back in a pooled buffer — each JSON line with its
/// '\n', exactly the bytes to write — and what rotation counts of each. <see cref="EntryCompleter"/>
/// writes into it (it is the Utf8JsonWriter's buffer), so a line is copied once, from the
/// writer's input into the bytes the append writes. Reusable: <see cref="Clear"/> between
/// appends; <see cref="Dispose"/> returns the buffer. Not thread-safe.
/// </summary>
public sealed class CompletedLines : IBufferWriter<byte>, IDisposable
{
    /// <summary>A buffer larger than this goes back to the pool at <see cref="Clear"/> instead of staying with its owner.</summary>
    private const int KeptBytes = 64 * 1024;

    private byte[] _buffer = [];
    private int _length, _lineStart;
    private LineFacts[] _facts = new LineFacts[1];

    public int Count { get; private set; }

    /// <summary>The bytes of all lines, as one write.</summary>
    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    public ReadOnlySpan<LineFacts> Facts => _facts.AsSpan(0, Count);

    /// <summary>Ends the line written since the last one with '\n' and records its facts.</summary>
    public void EndLine(ulong timestamp, int contentBytes, bool isUserMessage)
    {
        GetSpan(1)[0] = (byte)'\n';
        Advance(1);
        if (Count == _facts.Length) Array.Resize(ref _facts, Count * 2);
        _facts[Count++] = new LineFacts(timestamp, contentBytes, isUserMessage, _length - _lineStart);
        _lineStart = _length;
    }

    /// <summary>Drops a line begun but not ended (its completion was refused).</summary>
    public void DropUnended() => _length = _lineStart;

    /// <summary>The JSON of line i, without its '\n'.</summary>
    public ReadOnlySpan<byte> Line(int i)
    {
        int start = 0;
        for (int k = 0; k < i; k++) start += _facts[k].Length;
        return _buffer.AsSpan(start, _facts[i].Length - 1);
    }

    public void Clear()
    {
        _length = _lineStart = Count = 0;
        if (_buffer.Length > KeptBytes) ReturnBuffer();
    }

    /// <summary>A copy of all lines of <paramref name="entries"/> (each entry's JSON and a '\n').</summary>
    public static CompletedLines From(IReadOnlyList<CompletedEntry> entries)
    {
        var lines = new CompletedLines();
        foreach (var e in entries)
        {
            e.Json.CopyTo(lines.GetSpan(e.Json.Length));
            lines.Advance(e.Json.Length);
            lines.EndLine(e.Timestamp, e.ContentBytes, e.IsUserMessage);
        }
        return lines;
    }

    public void Advance(int count) => _length += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_length);
    }

    private void Reserve(int sizeHint)
    {
        int want = _length + Math.Max(sizeHint, 1);
        if (want <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(want, Math.Max(256, _buffer.Length * 2)));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ReturnBuffer();
        _buffer = bigger;
    }

    private void ReturnBuffer()
    {
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    public void Dispose()
    {
        _length = _lineStart = Count = 0;
        ReturnBuffer();
    }
}

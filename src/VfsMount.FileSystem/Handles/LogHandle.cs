using VfsMount.Store;
using VfsMount.Store.Json;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// A log opened for writing (SPEC §2.1). Writes append whole lines: the complete lines of one
/// write request are validated, completed and appended as one durable unit; an unfinished line
/// waits in this handle's buffer until its '\n' arrives or the handle is closed.
/// </summary>
/// <remarks>
/// The kernel sends a flush on every close(2) of a descriptor of this handle, also of copies:
/// the shell's `printf … >&3` dup2s fd 3 onto fd 1 and closes that copy afterwards, and a forked
/// child closes the ones it inherited. So a flush appends the unfinished line only when it is
/// valid; an invalid one makes that close return EINVAL (dup2's implicit close drops it) and stays
/// buffered, since a later write may still finish it. At release (the last close) what is still
/// unfinished is refused for good: quarantined and logged. A '\n' right after a line that a
/// flush terminated is that line's own end, not an empty line.
/// </remarks>
internal sealed class LogHandle(LogTarget target, bool append, string from, Refusals refusals, long maxLineBytes, MountCounters counters) : Handle
{
    private readonly MemoryStream _pending = new();
    private readonly CompletedLines _lines = new();   // each append's completed lines; reused, its buffer pooled
    private long _nextOffset = -1;
    private bool _terminatedByFlush;   // the last line was appended by a flush, with a '\n' of ours

    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = target.Read(buffer, offset);
        return 0;
    }

    public override int Write(ReadOnlySpan<byte> data, long offset, out int written)
    {
        written = 0;
        // Without O_APPEND only a write at the end appends: the log's end plus what this handle holds.
        if (!append && offset != _nextOffset && offset != target.Length + _pending.Length)
            return refusals.Refuse(target, Errno.EPERM, $"write at offset {offset} is not at the end; logs only append");

        int total = data.Length;
        if (_terminatedByFlush && _pending.Length == 0 && data.Length > 0 && data[0] == (byte)'\n')
        {
            data = data[1..];   // the flush already ended this line
            if (data.Length == 0) return Accepted(total, offset, out written);
        }
        int lastNewline = data.LastIndexOf((byte)'\n');
        if (lastNewline < 0)
        {
            if (_pending.Length + data.Length > maxLineBytes)
                return refusals.Refuse(target, Errno.EFBIG, $"unfinished line over {maxLineBytes} bytes", Concat(data));
            _pending.Write(data);
            return Accepted(total, offset, out written);
        }

        // Without an unfinished line before them, the lines are validated where the kernel put them: no copy.
        int errno = _pending.Length == 0 ? AppendLines(data[..(lastNewline + 1)]) : AppendLines(Concat(data[..(lastNewline + 1)]));
        if (errno != 0) return errno;
        _pending.SetLength(0);
        _pending.Write(data[(lastNewline + 1)..]);
        return Accepted(total, offset, out written);
    }

    /// <summary>
    /// Each close(2): a valid unfinished line is appended with a '\n'; an invalid one is answered
    /// with EINVAL and kept, because this may be the close of a copy of the descriptor.
    /// </summary>
    public override int Flush()
    {
        if (_pending.Length == 0) return 0;
        var line = PendingLine();
        if (Validate(line) is { } refused) return refused.Errno;
        int errno = Append(line);
        if (errno != 0) return errno;
        _pending.SetLength(0);
        _terminatedByFlush = true;
        return 0;
    }

    /// <summary>The last close: an unfinished line still waiting is appended if valid, else refused (quarantined, logged).</summary>
    public override void Release()
    {
        try
        {
            if (_pending.Length == 0) return;
            var line = PendingLine();
            _pending.SetLength(0);
            AppendLines(line);
        }
        finally
        {
            target.Release();
        }
    }

    public override int Truncate(long size) => refusals.Refuse(target, Errno.EPERM, "logs cannot be truncated");

    /// <summary>Validates every line of text (each ending in '\n') and appends them all, or none.</summary>
    private int AppendLines(ReadOnlySpan<byte> text)
    {
        if (Validate(text) is { } refused) return refusals.Refuse(target, refused.Errno, refused.Message, text.ToArray());
        return Append(text);
    }

    /// <summary>Validates and completes every line of text (each ending in '\n') into _lines; the refusal, or null.</summary>
    private StoreException? Validate(ReadOnlySpan<byte> text)
    {
        _lines.Clear();
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        int start = 0;
        try
        {
            while (start < text.Length)
            {
                int length = text[start..].IndexOf((byte)'\n');
                if (length > maxLineBytes) throw new StoreException(Errno.EFBIG, $"a line of {length} bytes is over the limit of {maxLineBytes}");
                target.Complete(text.Slice(start, length), from, now, _lines);
                start += length + 1;
            }
            return null;
        }
        catch (StoreException e) when (e.Errno is Errno.EINVAL or Errno.EFBIG)
        {
            return e;
        }
    }

    /// <summary>Appends the lines Validate completed from text (text is kept if the store refuses them).</summary>
    private int Append(ReadOnlySpan<byte> text)
    {
        try
        {
            target.Append(_lines);
            counters.Appended(target.Context, _lines.Count, _lines.Bytes.Length);
            return 0;
        }
        catch (StoreException e) when (e.Errno is Errno.EINVAL or Errno.EFBIG)
        {
            return refusals.Refuse(target, e.Errno, e.Message, text.ToArray());
        }
        catch (StoreException e)
        {
            return refusals.Refuse(target, e.Errno, e.Message);
        }
    }

    private byte[] PendingLine()
    {
        var line = new byte[_pending.Length + 1];
        _pending.GetBuffer().AsSpan(0, (int)_pending.Length).CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    private byte[] Concat(ReadOnlySpan<byte> data)
    {
        var all = new byte[_pending.Length + data.Length];
        _pending.ToArray().CopyTo(all, 0);
        data.CopyTo(all.AsSpan((int)_pending.Length));
        return all;
    }

    private int Accepted(int length, long offset, out int written)
    {
        written = length;
        _nextOffset = offset + length;
        _terminatedByFlush = false;
        return 0;
    }
}

using VfsMount.Store;
using VfsMount.Store.Json;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// A log opened for writing (SPEC §2.1). Writes append whole lines: the complete lines of one
/// write request are validated, completed and appended as one durable unit; an unfinished line
/// waits in this handle's buffer until its '\n' arrives or the handle is closed.
/// </summary>
internal sealed class LogHandle(LogTarget target, bool append, string from, Refusals refusals, long maxLineBytes) : Handle
{
    private readonly MemoryStream _pending = new();
    private long _nextOffset = -1;

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

        int lastNewline = data.LastIndexOf((byte)'\n');
        if (lastNewline < 0)
        {
            if (_pending.Length + data.Length > maxLineBytes)
                return refusals.Refuse(target, Errno.EFBIG, $"unfinished line over {maxLineBytes} bytes", Concat(data));
            _pending.Write(data);
            return Accepted(data.Length, offset, out written);
        }

        var complete = Concat(data[..(lastNewline + 1)]);
        int errno = AppendLines(complete);
        if (errno != 0) return errno;
        _pending.SetLength(0);
        _pending.Write(data[(lastNewline + 1)..]);
        return Accepted(data.Length, offset, out written);
    }

    /// <summary>close(2): an unfinished line is validated and appended with a '\n'.</summary>
    public override int Flush()
    {
        if (_pending.Length == 0) return 0;
        var line = new byte[_pending.Length + 1];
        _pending.ToArray().CopyTo(line, 0);
        line[^1] = (byte)'\n';
        _pending.SetLength(0);   // refused or not, it is not retried at the next close
        return AppendLines(line);
    }

    public override int Truncate(long size) => refusals.Refuse(target, Errno.EPERM, "logs cannot be truncated");

    /// <summary>Validates every line of text (each ending in '\n') and appends them all, or none.</summary>
    private int AppendLines(byte[] text)
    {
        var entries = new List<CompletedEntry>();
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        int start = 0;
        try
        {
            while (start < text.Length)
            {
                int end = Array.IndexOf(text, (byte)'\n', start);
                int length = end - start;
                if (length > maxLineBytes) throw new StoreException(Errno.EFBIG, $"a line of {length} bytes is over the limit of {maxLineBytes}");
                entries.Add(target.Complete(text.AsSpan(start, length), from, now));
                start = end + 1;
            }
            target.Append(entries);
            return 0;
        }
        catch (StoreException e) when (e.Errno is Errno.EINVAL or Errno.EFBIG)
        {
            return refusals.Refuse(target, e.Errno, e.Message, text);
        }
        catch (StoreException e)
        {
            return refusals.Refuse(target, e.Errno, e.Message);
        }
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
        return 0;
    }
}

using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// The one append used by every log chibi locks: mend a torn tail, write, fsync — or leave the
/// file exactly as it was, which is safe only because every writer takes that lock (the caller
/// holds it). transcript.md, appended without chibi's lock, has <see cref="TextLog"/>.
/// </summary>
public static class LineAppender
{
    /// <summary>
    /// Appends whole lines (payload ends with '\n'). Durable when it returns. On failure
    /// (ENOSPC …) the file is cut back to its size before the call and the errno is thrown.
    /// Returns the file's size before the append (after mending) and its inode.
    /// </summary>
    /// <param name="ownerIfNew">Who the file belongs to when this append makes it (default: its directory's owner).</param>
    public static (long Before, ulong Inode) Append(string path, ReadOnlySpan<byte> payload, Quarantine quarantine, string context, Func<FileOwner>? ownerIfNew = null)
    {
        using var file = PosixFile.OpenOrCreate(path, PosixFile.ReadWrite | PosixFile.Append | PosixFile.NoFollow, ownerIfNew ?? (() => FileOwner.For(path)));
        int statErrno = file.Status(out var st);
        if (statErrno != 0) throw new PosixException(statErrno, path);
        return (Append(file, st.Size, tailKnown: false, path, payload, quarantine, context), st.Inode);
    }

    /// <summary>
    /// The same append to a file held open (O_APPEND) whose size is <paramref name="size"/>:
    /// a write and an fsync. tailKnown says the size is where an append of ours ended, so the
    /// last byte is a '\n' and is not read again. Returns the size before the append.
    /// </summary>
    public static long Append(PosixFile file, long size, bool tailKnown, string path, ReadOnlySpan<byte> payload, Quarantine quarantine, string context)
    {
        long before = tailKnown ? size : MendTornTail(file, size, path, quarantine, context);
        CrashPoint.Hit("append-before-write");
        int errno;
        if (CrashPoint.IsArmed("append-mid-write") && payload.Length > 1)
        {
            file.WriteAll(payload[..(payload.Length / 2)]);
            CrashPoint.Hit("append-mid-write");
        }
        errno = file.WriteAll(payload);
        if (errno == 0)
        {
            CrashPoint.Hit("append-before-fsync");
            errno = file.Sync();
        }
        if (errno != 0)
        {
            file.SetLength(before);
            file.Sync();
            throw new PosixException(errno, $"append to {path}");
        }
        return before;
    }

    /// <summary>
    /// Bytes after the last '\n' were left by a writer that crashed holding the lock: they go to
    /// the quarantine so no new entry is glued to them. Returns the mended size.
    /// </summary>
    public static long MendTornTail(PosixFile file, string path, Quarantine quarantine, string context)
    {
        long size = file.Length();
        if (size < 0) throw new PosixException((int)-size, path);
        return MendTornTail(file, size, path, quarantine, context);
    }

    public static long MendTornTail(PosixFile file, long size, string path, Quarantine quarantine, string context)
    {
        if (size == 0) return 0;
        Span<byte> last = stackalloc byte[1];
        if (file.ReadAt(last, size - 1) == 1 && last[0] == (byte)'\n') return size;

        long cut = LastNewlineEnd(file, size);
        var tail = new byte[size - cut];
        file.ReadAt(tail, cut);
        quarantine.Keep(context, Path.GetFileName(path), $"torn tail of {path} ({tail.Length} bytes) after a crash", tail);
        int errno = file.SetLength(cut);
        if (errno == 0) errno = file.Sync();
        if (errno != 0) throw new PosixException(errno, $"cut torn tail of {path}");
        Console.Error.WriteLine($"vfsmount: {context}: {Path.GetFileName(path)}: quarantined a torn tail of {tail.Length} bytes");
        return cut;
    }

    /// <summary>Offset just after the last '\n' before size (0 when there is none).</summary>
    public static long LastNewlineEnd(PosixFile file, long size)
    {
        var chunk = new byte[64 * 1024];
        long end = size;
        while (end > 0)
        {
            long start = Math.Max(0, end - chunk.Length);
            int n = (int)file.ReadAt(chunk.AsSpan(0, (int)(end - start)), start);
            int i = chunk.AsSpan(0, n).LastIndexOf((byte)'\n');
            if (i >= 0) return start + i + 1;
            end = start;
        }
        return 0;
    }
}

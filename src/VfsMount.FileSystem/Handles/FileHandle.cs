using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>A plain file of the store: scratch files (read-write) and transcript/ (read-only).</summary>
internal sealed class FileHandle(PosixFile file, bool append, bool readOnly) : Handle
{
    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        long n = file.ReadAt(buffer, offset);
        bytesRead = n < 0 ? 0 : (int)n;
        return n < 0 ? (int)-n : 0;
    }

    public override int Write(ReadOnlySpan<byte> data, long offset, out int written)
    {
        written = 0;
        if (readOnly) return Errno.EROFS;
        int errno = append ? file.WriteAll(data) : file.WriteAllAt(data, offset);
        if (errno == 0) written = data.Length;
        return errno;
    }

    public override int Fsync() => readOnly ? 0 : file.Sync();

    public override int Truncate(long size) => readOnly ? Errno.EROFS : file.SetLength(size);

    public override int Status(out FileStatus status) => file.Status(out status);

    public override void Release() => file.Dispose();
}

/// <summary>A document that does not exist yet but is always listed (state.json): reads as empty.</summary>
internal sealed class EmptyHandle : Handle
{
    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = 0;
        return 0;
    }
}

/// <summary>Bytes generated at open (status.json): every read of this handle sees the same snapshot.</summary>
internal sealed class BytesHandle(byte[] content) : Handle
{
    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = offset >= content.Length ? 0 : Math.Min(buffer.Length, content.Length - (int)offset);
        if (bytesRead > 0) content.AsSpan((int)offset, bytesRead).CopyTo(buffer);
        return 0;
    }
}

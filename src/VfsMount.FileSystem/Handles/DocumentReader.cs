using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// A document opened read-only: it reads the file it opened until it closes, whole (SPEC §2.2
/// "Identity"). A commit replaces the store's file (temp + rename) and so gives the document a
/// new identity, which the host presents as a new node with a page cache of its own: readers
/// opened before keep the old bytes, opens after read the new ones, and no cache mixes them.
/// </summary>
internal sealed class DocumentReader(PosixFile file) : Handle
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
        return Errno.EROFS;
    }

    public override int Truncate(long size) => Errno.EROFS;

    public override int Status(out FileStatus status) => file.Status(out status);

    /// <summary>
    /// Its own file's size, not the name's: a page-cache read past the size the kernel holds asks
    /// with this handle, and a writer's staged size (<see cref="StagedAttributes"/>) or a newer
    /// commit must not end this reader's bytes early.
    /// </summary>
    public override long? Size => file.Length() is var n and >= 0 ? n : null;

    public override void Release() => file.Dispose();
}

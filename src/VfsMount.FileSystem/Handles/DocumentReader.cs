using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// A document opened read-only. It reads the document's committed content and follows each
/// commit made through the mount: a commit replaces the store's file (temp + rename), but the
/// kernel keeps one inode and one page cache for the name, which every reader of it shares, so a
/// handle that kept reading the old file would put old bytes into that cache for readers opened
/// after the commit (SPEC §2.2: no reader is served the old bytes after a commit). When the
/// document is unlinked, renamed away or renamed over, the kernel gives the handle a file of its
/// own, and the handle keeps the file it has, as on any POSIX file system.
/// </summary>
internal sealed class DocumentReader(string target, PosixFile file) : Handle
{
    private readonly Lock _lock = new();   // a rebind never closes a descriptor a read is using
    private PosixFile _file = file;
    private bool _detached;

    public string Target => target;

    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        lock (_lock)
        {
            long n = _file.ReadAt(buffer, offset);
            bytesRead = n < 0 ? 0 : (int)n;
            return n < 0 ? (int)-n : 0;
        }
    }

    public override int Write(ReadOnlySpan<byte> data, long offset, out int written)
    {
        written = 0;
        return Errno.EROFS;
    }

    public override int Truncate(long size) => Errno.EROFS;

    public override int Status(out FileStatus status)
    {
        lock (_lock) return _file.Status(out status);
    }

    /// <summary>After a commit of the document: read the new committed file from now on (unless detached).</summary>
    public void Rebind()
    {
        lock (_lock)
        {
            if (_detached || PosixFile.Open(target, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var fresh) != 0) return;
            _file.Dispose();
            _file = fresh!;
        }
    }

    /// <summary>The document was unlinked, renamed away or renamed over: keep this file for good.</summary>
    public void Detach()
    {
        lock (_lock) _detached = true;
    }

    public override void Release()
    {
        lock (_lock) _file.Dispose();
    }
}

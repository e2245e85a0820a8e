using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// An open file of the mount. Each node kind has its own handle with its own semantics;
/// operations return 0 or an errno. Calls on one handle are serialized by the file system.
/// </summary>
internal abstract class Handle
{
    public abstract int Read(Span<byte> buffer, long offset, out int bytesRead);

    public virtual int Write(ReadOnlySpan<byte> data, long offset, out int written)
    {
        written = 0;
        return Errno.EBADF;
    }

    /// <summary>Each close(2): what it returns.</summary>
    public virtual int Flush() => 0;

    public virtual int Fsync() => 0;

    public virtual int Truncate(long size) => Errno.EPERM;

    /// <summary>The size a getattr on this handle reports; null: the path's size.</summary>
    public virtual long? Size => null;

    /// <summary>fstat of the file this handle reads and writes, for a getattr that has no path (the name was unlinked or renamed over); ENOENT: none.</summary>
    public virtual int Status(out FileStatus status)
    {
        status = default;
        return Errno.ENOENT;
    }

    public virtual void Release()
    {
    }
}

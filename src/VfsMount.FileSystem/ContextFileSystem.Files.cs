using VfsMount.FileSystem.Handles;
using VfsMount.FileSystem.Nodes;

namespace VfsMount.FileSystem;

public sealed partial class ContextFileSystem
{
    public int Open(string path, OpenFlags flags, Caller caller, out OpenResult result) =>
        OpenOrCreate(path, flags, 0x1A4, caller, create: false, out result);

    public int Create(string path, uint mode, OpenFlags flags, Caller caller, out OpenResult result) =>
        OpenOrCreate(path, flags | OpenFlags.Create, mode, caller, create: true, out result);

    private int OpenOrCreate(string path, OpenFlags flags, uint mode, Caller caller, bool create, out OpenResult result)
    {
        result = default;
        try
        {
            var node = Existing(path, out int errno);
            // An internal name says itself why it cannot be created; otherwise only what can be used opens.
            if (errno != 0 && !(create && node is InternalNode)) return errno;
            if (node is not IOpen open)
                return (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0 ? Errno.EISDIR : Errno.EPERM;
            errno = open.Open(flags, mode, caller, create, out var opened);
            if (errno != 0) return errno;
            ulong id = (ulong)Interlocked.Increment(ref _nextHandle);
            _handles[id] = opened.Handle;
            result = new OpenResult(id, opened.DirectIo, opened.KeepCache, opened.NoFlush);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    public int Read(ulong handle, Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = 0;
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            return h.Read(buffer, offset, out bytesRead);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }

    public int Write(ulong handle, ReadOnlySpan<byte> data, long offset, out int bytesWritten)
    {
        bytesWritten = 0;
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) return h.Write(data, offset, out bytesWritten);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }

    public int Flush(ulong handle) => OnHandle(handle, h => h.Flush());

    public int Fsync(ulong handle, bool dataOnly) => OnHandle(handle, h => h.Fsync());

    /// <remarks>
    /// The handle stays known until its release is done: a document it created and commits only
    /// now exists meanwhile for lookups, so an unlink racing the release (vim's probe files:
    /// create, close, unlink) finds it and wins, instead of the commit bringing it back.
    /// </remarks>
    public int Release(ulong handle)
    {
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) h.Release();
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
        finally
        {
            _handles.TryRemove(handle, out _);
        }
    }

    public int Truncate(string path, ulong? handle, long size)
    {
        if (handle is { } id && _handles.TryGetValue(id, out _)) return OnHandle(id, h => h.Truncate(size));
        return Guard(path, () =>
        {
            var node = Existing(path, out int errno);
            if (errno != 0) return errno;
            return node is ITruncate truncatable ? truncatable.Truncate(size) : Errno.EISDIR;
        });
    }

    private int OnHandle(ulong handle, Func<Handle, int> operation)
    {
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) return operation(h);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }
}

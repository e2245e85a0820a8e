using VfsMount.FileSystem;
using VfsMount.Tests.View;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// Runs operations on the view in-process (a fresh store, no kernel), sending for each syscall
/// what the kernel would send: a lookup (getattr) before opening, renaming or unlinking a name,
/// open or create as the lookup found it, flush then release for close(2), getattr of the
/// handle for lseek(SEEK_END). What the kernel answers by itself — EBADF for a read or write
/// the descriptor's mode forbids, EINVAL for ftruncate of a read-only descriptor, ENODEV for
/// a shared mapping of a direct-io file — is answered here, without calling the view.
/// </summary>
internal sealed class ViewDriver : IFsDriver
{
    private readonly ViewFixture _view = new();
    private readonly string _context;
    private readonly Slot?[] _slots = new Slot?[FsModel.Slots];
    private readonly LogReadCheck _logs = new();

    private sealed record Slot(ulong Handle, string Path, string Name, int Flags, bool DirectIo, NodeIdentity Identity);

    public ViewDriver(string context)
    {
        _context = context;
        _view.Context(context);
    }

    private IFileSystem Fs => _view.Fs;

    public string Log => _view.Log;

    private string PathOf(string name) => $"/{_context}/{name}";

    public Outcome Run(Op op) => op.Kind switch
    {
        OpKind.Open => Open(op),
        OpKind.Close => Close(op.Slot),
        OpKind.Read => Read(_slots[op.Slot]!, op.Offset, op.Length),
        OpKind.Write => Write(_slots[op.Slot]!, op.Data!, op.Offset),
        OpKind.Truncate => Truncate(_slots[op.Slot]!, op.Offset),
        OpKind.Mmap => MapRead(_slots[op.Slot]!),
        OpKind.Stat => Fs.GetAttr(PathOf(op.File), null, out var attr) is var e and not 0 ? Outcome.Fail(e) : Outcome.Ok(attr.Size),
        OpKind.Fstat => Fstat(_slots[op.Slot]!),
        OpKind.ReadFile => ReadFile(op.File),
        OpKind.Rename => Looked(op.File, () => Fs.Rename(PathOf(op.File), PathOf(op.Target), RenameFlags.None)),
        OpKind.Unlink => Looked(op.File, () => Fs.Unlink(PathOf(op.File))),
        OpKind.LogWrite => LogWrite(op),
        OpKind.LogRead => ReadAll(_slots[op.Slot]!.Handle, out var bytes) is var e and not 0 ? Outcome.Fail(e) : _logs.Check(_slots[op.Slot]!.Name, bytes),
        _ => throw new InvalidOperationException(op.ToString()),
    };

    /// <summary>The kernel looks the name up first: a name that is not there never reaches the operation.</summary>
    private Outcome Looked(string name, Func<int> operation)
    {
        int errno = Fs.GetAttr(PathOf(name), null, out _);
        if (errno == 0) errno = operation();
        return errno == 0 ? Outcome.Ok() : Outcome.Fail(errno);
    }

    private Outcome Open(Op op)
    {
        string path = PathOf(op.File);
        var flags = Flags(op.Flags);
        // An existing name is opened (the kernel drops O_CREAT); a missing one is created only with O_CREAT.
        bool exists = Fs.GetAttr(path, null, out _) == 0;
        OpenResult result = default;
        int errno = exists ? Fs.Open(path, flags & ~OpenFlags.Create, ViewFixture.Me, out result)
            : (op.Flags & PosixOpenFlags.Create) != 0 ? Fs.Create(path, 0x1A4, flags, ViewFixture.Me, out result)
            : Errno.ENOENT;
        if (errno != 0) return Outcome.Fail(errno);
        Fs.GetAttr(path, null, out var opened);   // the node the kernel now holds for the descriptor
        var slot = _slots[op.Slot] = new Slot(result.Handle, path, op.File, op.Flags, result.DirectIo, opened.Identity);
        return op.Data is null ? Outcome.Ok() : Write(slot, op.Data, 0);
    }

    /// <summary>Only the flags the host passes on: the access mode, O_APPEND, O_TRUNC, O_CREAT.</summary>
    private static OpenFlags Flags(int posix)
    {
        var f = (posix & PosixOpenFlags.AccessMask) switch
        {
            PosixOpenFlags.WriteOnly => OpenFlags.Write,
            PosixOpenFlags.ReadWrite => OpenFlags.ReadWrite,
            _ => OpenFlags.ReadOnly,
        };
        if ((posix & PosixOpenFlags.Append) != 0) f |= OpenFlags.Append;
        if ((posix & PosixOpenFlags.Truncate) != 0) f |= OpenFlags.Truncate;
        if ((posix & PosixOpenFlags.Create) != 0) f |= OpenFlags.Create;
        return f;
    }

    /// <summary>close(2): the flush's errno; the release follows whatever it was.</summary>
    private Outcome Close(int index)
    {
        var slot = _slots[index]!;
        _slots[index] = null;
        int errno = Fs.Flush(slot.Handle);
        int released = Fs.Release(slot.Handle);
        if (released != 0) return new Outcome(0, Violation: $"release of {slot.Name} returned errno {released}");
        return errno == 0 ? Outcome.Ok() : Outcome.Fail(errno);
    }

    private Outcome Read(Slot slot, long offset, int length)
    {
        if (!PosixOpenFlags.Readable(slot.Flags)) return Outcome.Fail(Errnos.EBADF);
        var buffer = new byte[length];
        int errno = Fs.Read(slot.Handle, buffer, offset, out int n);
        return errno != 0 ? Outcome.Fail(errno) : Outcome.Read(buffer[..n]);
    }

    private Outcome Write(Slot slot, byte[] data, long offset)
    {
        if (!PosixOpenFlags.Writable(slot.Flags)) return Outcome.Fail(Errnos.EBADF);
        int errno = Fs.Write(slot.Handle, data, offset, out int written);
        return errno != 0 ? Outcome.Fail(errno) : Outcome.Ok(written);
    }

    private Outcome Truncate(Slot slot, long size)
    {
        if (!PosixOpenFlags.Writable(slot.Flags)) return Outcome.Fail(Errnos.EINVAL);
        int errno = Fs.Truncate(slot.Path, slot.Handle, size);
        return errno == 0 ? Outcome.Ok() : Outcome.Fail(errno);
    }

    /// <summary>A shared mapping reads the file's pages through the handle; a direct-io file cannot be mapped so.</summary>
    private Outcome MapRead(Slot slot)
    {
        if (slot.DirectIo) return Outcome.Fail(Errnos.ENODEV);
        return ReadAll(slot.Handle, out var bytes) is var errno and not 0 ? Outcome.Fail(errno) : Outcome.Read(bytes);
    }

    /// <summary>
    /// fstat(2): the kernel sends getattr of the descriptor's node without a handle; the host
    /// answers from the node's name while it leads to that file, else from a handle of the node.
    /// </summary>
    private Outcome Fstat(Slot slot)
    {
        int errno = Fs.GetAttr(slot.Path, null, out var attr);
        if (errno != 0 || attr.Identity != slot.Identity) errno = Fs.GetAttr("", slot.Handle, out attr);
        return errno == 0 ? Outcome.Ok(attr.Size) : Outcome.Fail(errno);
    }

    /// <summary>A fresh reader: lookup, open read-only, read to the end, close.</summary>
    private Outcome ReadFile(string name)
    {
        string path = PathOf(name);
        OpenResult result = default;
        int errno = Fs.GetAttr(path, null, out _);
        if (errno == 0) errno = Fs.Open(path, OpenFlags.ReadOnly, ViewFixture.Me, out result);
        if (errno != 0) return Outcome.Fail(errno);
        errno = ReadAll(result.Handle, out var bytes);
        Fs.Flush(result.Handle);
        Fs.Release(result.Handle);
        return errno == 0 ? Outcome.Read(bytes) : Outcome.Fail(errno);
    }

    private Outcome LogWrite(Op op)
    {
        var slot = _slots[op.Slot]!;
        if (!PosixOpenFlags.Writable(slot.Flags)) return Outcome.Fail(Errnos.EBADF);
        long offset = 0;
        if (op.At == LogAt.One) offset = 1;
        else if (op.At == LogAt.End)
        {
            // lseek(SEEK_END): the kernel asks for the open file's attributes.
            int errno = Fs.GetAttr(slot.Path, slot.Handle, out var attr);
            if (errno != 0) return Outcome.Fail(errno);
            offset = attr.Size;
        }
        return Write(slot, op.Data!, offset);
    }

    /// <summary>Reads from 0 until a read returns no bytes.</summary>
    private int ReadAll(ulong handle, out byte[] bytes)
    {
        using var all = new MemoryStream();
        var buffer = new byte[1 << 16];
        bytes = [];
        while (true)
        {
            int errno = Fs.Read(handle, buffer, all.Length, out int n);
            if (errno != 0) return errno;
            if (n == 0) break;
            all.Write(buffer, 0, n);
        }
        bytes = all.ToArray();
        return 0;
    }

    public void Dispose()
    {
        for (int i = 0; i < _slots.Length; i++)
            if (_slots[i] is not null) Close(i);
        _view.Dispose();
    }
}

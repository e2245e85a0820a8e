using System.Runtime.InteropServices;
using VfsMount.Tests.Mount;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// Runs operations on a fresh mount with raw syscalls from this process — no .NET stream
/// buffering between the test and the kernel — and reports what each returned, as the model does.
/// Holds the descriptors of the slots; Dispose closes whatever is still open, then unmounts.
/// </summary>
internal sealed unsafe partial class MountDriver : IFsDriver
{
    private readonly MountedStore _mount;
    private readonly string _contextDir;
    private readonly int[] _fds = Enumerable.Repeat(-1, FsModel.Slots).ToArray();
    private readonly string[] _files = new string[FsModel.Slots];
    private readonly LogReadCheck _logs = new();

    public MountDriver(string context)
    {
        _mount = MountedStore.Start();
        _contextDir = Path.Combine(_mount.Mnt, context);
        Directory.CreateDirectory(_contextDir);
    }

    public string Log => _mount.Log;

    private string PathOf(string name) => Path.Combine(_contextDir, name);

    public Outcome Run(Op op) => op.Kind switch
    {
        OpKind.Open => Open(op),
        OpKind.Close => Close(op.Slot),
        OpKind.Read => Read(_fds[op.Slot], op.Offset, op.Length),
        OpKind.Write => Write(_fds[op.Slot], op.Data!, op.Offset),
        OpKind.Truncate => Check(Retry(() => FTruncate(_fds[op.Slot], op.Offset))),
        OpKind.Mmap => MapRead(_fds[op.Slot]),
        OpKind.Stat => Stat(op.File),
        OpKind.Fstat => Fstat(_fds[op.Slot]),
        OpKind.ReadFile => ReadFile(op.File),
        OpKind.Rename => Check(Retry(() => Rename(PathOf(op.File), PathOf(op.Target)))),
        OpKind.Unlink => Check(Retry(() => Unlink(PathOf(op.File)))),
        OpKind.LogWrite => LogWrite(op),
        OpKind.LogRead => LogRead(op.Slot),
        _ => throw new InvalidOperationException(op.ToString()),
    };

    private Outcome Open(Op op)
    {
        int fd = (int)Retry(() => OpenFile(PathOf(op.File), op.Flags | PosixOpenFlags.CloseOnExec, 0x1A4));
        if (fd < 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        _fds[op.Slot] = fd;
        _files[op.Slot] = op.File;
        return op.Data is null ? Outcome.Ok() : Write(fd, op.Data, 0);
    }

    private Outcome Close(int slot)
    {
        int fd = _fds[slot];
        _fds[slot] = -1;
        // No retry: after close(2) the descriptor is gone whatever it returned.
        return CloseFile(fd) == 0 ? Outcome.Ok() : Outcome.Fail(Marshal.GetLastPInvokeError());
    }

    private static Outcome Read(int fd, long offset, int length)
    {
        var buffer = new byte[length];
        long n;
        fixed (byte* p = buffer) do n = PRead(fd, p, length, offset); while (Interrupted(n));
        return n < 0 ? Outcome.Fail(Marshal.GetLastPInvokeError()) : Outcome.Read(buffer.AsSpan(0, (int)n).ToArray());
    }

    private static Outcome Write(int fd, byte[] data, long offset)
    {
        long n;
        fixed (byte* p = data) do n = PWrite(fd, p, data.Length, offset); while (Interrupted(n));
        return n < 0 ? Outcome.Fail(Marshal.GetLastPInvokeError()) : Outcome.Ok(n);
    }

    /// <summary>Maps the whole file read-only and shared (as a reader would), copies it out and unmaps.</summary>
    private static Outcome MapRead(int fd)
    {
        long size = LSeek(fd, 0, SeekEnd);
        if (size < 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        // An empty file cannot be mapped by its size; map a page and touch nothing, so a refusal still shows.
        nint length = size == 0 ? 4096 : (nint)size;
        nint addr = Mmap(0, length, ProtRead, MapShared, fd, 0);
        if (addr == -1) return Outcome.Fail(Marshal.GetLastPInvokeError());
        try
        {
            var bytes = new byte[size];
            if (size == 0) return Outcome.Read(bytes);
            // Copied with process_vm_readv from this very process: a page the file cannot back
            // (SIGBUS for a plain load, which would kill the test host) ends the copy with EFAULT.
            long copied;
            fixed (byte* p = bytes)
            {
                var local = new IoVec { Base = (nint)p, Length = (nint)size };
                var remote = new IoVec { Base = addr, Length = (nint)size };
                copied = ProcessVmReadv(Environment.ProcessId, &local, 1, &remote, 1, 0);
            }
            if (copied != size)
                return new Outcome(0, Violation: $"mmap of {size} B: only {Math.Max(copied, 0)} B readable (errno {(copied < 0 ? Marshal.GetLastPInvokeError() : 0)}): the file is shorter than the size its descriptor reports");
            return Outcome.Read(bytes);
        }
        finally
        {
            Munmap(addr, length);
        }
    }

    private Outcome Stat(string name)
    {
        var buffer = stackalloc byte[256];
        int r;
        do r = Statx(AtFdCwd, PathOf(name), 0, StatxSize, buffer); while (Interrupted(r));
        if (r != 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        return Outcome.Ok(*(long*)(buffer + 40));   // struct statx: stx_size at offset 40 on every architecture
    }

    /// <summary>fstat(2): statx of the descriptor itself (AT_EMPTY_PATH), as glibc does it.</summary>
    private static Outcome Fstat(int fd)
    {
        var buffer = stackalloc byte[256];
        int r;
        do r = Statx(fd, "", AtEmptyPath, StatxSize, buffer); while (Interrupted(r));
        if (r != 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        return Outcome.Ok(*(long*)(buffer + 40));
    }

    private Outcome ReadFile(string name)
    {
        int fd = (int)Retry(() => OpenFile(PathOf(name), PosixOpenFlags.ReadOnly | PosixOpenFlags.CloseOnExec, 0));
        if (fd < 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        try
        {
            return ReadAll(fd, out var bytes) is int errno and not 0 ? Outcome.Fail(errno) : Outcome.Read(bytes);
        }
        finally
        {
            CloseFile(fd);
        }
    }

    private static int ReadAll(int fd, out byte[] bytes)
    {
        using var all = new MemoryStream();
        var buffer = new byte[1 << 16];
        while (true)
        {
            long n;
            fixed (byte* p = buffer) do n = PRead(fd, p, buffer.Length, all.Length); while (Interrupted(n));
            if (n < 0)
            {
                bytes = [];
                return Marshal.GetLastPInvokeError();
            }
            if (n == 0) break;
            all.Write(buffer, 0, (int)n);
        }
        bytes = all.ToArray();
        return 0;
    }

    private Outcome LogWrite(Op op)
    {
        int fd = _fds[op.Slot];
        long offset = op.At switch { LogAt.Zero => 0, LogAt.One => 1, _ => LSeek(fd, 0, SeekEnd) };
        if (offset < 0) return Outcome.Fail(Marshal.GetLastPInvokeError());
        return Write(fd, op.Data!, offset);
    }

    private Outcome LogRead(int slot) =>
        ReadAll(_fds[slot], out var bytes) is int errno and not 0 ? Outcome.Fail(errno) : _logs.Check(_files[slot], bytes);

    private static Outcome Check(long result) => result == 0 ? Outcome.Ok() : Outcome.Fail(Marshal.GetLastPInvokeError());

    /// <summary>A syscall interrupted by a signal of the runtime is simply made again.</summary>
    private static long Retry(Func<long> call)
    {
        long r;
        do r = call(); while (Interrupted(r));
        return r;
    }

    private static bool Interrupted(long result) => result < 0 && Marshal.GetLastPInvokeError() == Errnos.EINTR;

    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            if (_fds[i] >= 0) CloseFile(_fds[i]);
            _fds[i] = -1;
        }
        _mount.Dispose();
    }

    private const int SeekEnd = 2, ProtRead = 1, MapShared = 1, AtFdCwd = -100;
    private const uint StatxSize = 0x200;
    private const int AtEmptyPath = 0x1000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseFile(int fd);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint PRead(int fd, byte* buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PWrite(int fd, byte* buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FTruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nint length, int prot, int flags, int fd, long offset);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public nint Base;
        public nint Length;
    }

    [LibraryImport("libc", EntryPoint = "process_vm_readv", SetLastError = true)]
    private static partial nint ProcessVmReadv(int pid, IoVec* local, ulong localCount, IoVec* remote, ulong remoteCount, ulong flags);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint addr, nint length);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}

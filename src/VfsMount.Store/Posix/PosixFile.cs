using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>
/// An open file descriptor with errno-returning operations. EINTR is retried here, so
/// callers only see real failures. Not thread-safe for Dispose; concurrent preads are fine.
/// </summary>
public sealed class PosixFile : IDisposable
{
    private int _fd;

    private PosixFile(int fd) => _fd = fd;

    /// <summary>Takes ownership of an open descriptor.</summary>
    internal static PosixFile FromDescriptor(int fd) => new(fd);

    public int Descriptor => _fd;

    public static readonly int ReadOnly = Libc.O_RDONLY, WriteOnly = Libc.O_WRONLY, ReadWrite = Libc.O_RDWR;
    public static readonly int Create = Libc.O_CREAT, Exclusive = Libc.O_EXCL, Truncate = Libc.O_TRUNC;
    public static readonly int Append = Libc.O_APPEND, NoFollow = Libc.O_NOFOLLOW, Directory = Libc.O_DIRECTORY;

    /// <summary>
    /// open(2) with O_CLOEXEC. Returns 0 or errno. A path in a store goes beneath its root
    /// (<see cref="StoreRoot.Open"/>): no symlink on the way is followed (ELOOP), and anything
    /// but a regular file (a directory with <see cref="Directory"/>) is refused without blocking (EIO).
    /// </summary>
    public static int Open(string path, int flags, uint mode, out PosixFile? file) =>
        StoreRoot.For(path) is { } root ? root.Open(path, flags, mode, out file) : OpenAnywhere(path, flags, mode, out file);

    /// <summary>
    /// Opens name relative to a directory from <see cref="StoreRoot.OpenDirectory"/> with
    /// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): never above that directory (EXDEV), never
    /// through a symlink (ELOOP, the last name included: open a symlink itself with O_PATH |
    /// O_NOFOLLOW). Any file type, as open(2): a FIFO there blocks as it would natively, so
    /// this is for scratch files, not store files. Returns 0 or errno.
    /// </summary>
    public static int OpenAt(PosixFile directory, string name, int flags, uint mode, out PosixFile? file)
    {
        int fd = PosixNative.vfs_openat2(directory.Descriptor, name, flags | Libc.O_CLOEXEC, (flags & Libc.O_CREAT) != 0 ? mode : 0,
            Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS);
        file = fd >= 0 ? new PosixFile(fd) : null;
        return fd >= 0 ? 0 : -fd;
    }

    /// <summary>open(2) with O_CLOEXEC, as the path says, for files outside any store. Returns 0 or errno.</summary>
    public static int OpenAnywhere(string path, int flags, uint mode, out PosixFile? file)
    {
        while (true)
        {
            int fd = Libc.Open(path, flags | Libc.O_CLOEXEC, (int)mode);
            if (fd >= 0)
            {
                file = new PosixFile(fd);
                return 0;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR) continue;
            file = null;
            return errno;
        }
    }

    /// <summary>Opens or throws an IOException naming the path; for callers outside hot paths.</summary>
    public static PosixFile OpenOrThrow(string path, int flags, uint mode = 0x1A4)
    {
        int errno = Open(path, flags, mode, out var file);
        return errno == 0 ? file! : throw new PosixException(errno, path);
    }

    /// <summary>
    /// Opens path, creating it when missing — with O_EXCL, so only a file this call made — and
    /// giving a new file <paramref name="ownerIfNew"/>'s owner and mode (SPEC §2.5: a root daemon
    /// never leaves a file the store's user cannot use). One open when the file exists.
    /// </summary>
    public static PosixFile OpenOrCreate(string path, int flags, Func<FileOwner> ownerIfNew)
    {
        flags &= ~(Create | Exclusive);
        while (true)
        {
            int errno = Open(path, flags, 0, out var file);
            if (errno == 0) return file!;
            if (errno != Libc.ENOENT) throw new PosixException(errno, path);   // missing: make it
            var owner = ownerIfNew();   // asked before: afterwards the new file is what it would see
            errno = Open(path, flags | Create | Exclusive, 0x1A4, out file);
            if (errno == Libc.EEXIST) continue;   // made by someone else meanwhile
            if (errno != 0) throw new PosixException(errno, path);
            errno = file!.TakeOwner(owner);
            if (errno == 0) return file;
            file.Dispose();
            throw new PosixException(errno, $"chown {path}");
        }
    }

    /// <summary>The whole content of a file (beneath the store root for a store path). Returns 0 or errno.</summary>
    public static int ReadAll(string path, out byte[] bytes)
    {
        bytes = [];
        int errno = Open(path, ReadOnly | NoFollow, 0, out var file);
        if (errno != 0) return errno;
        using (file)
        {
            long size = file!.Length();
            if (size < 0) return (int)-size;
            using var content = new MemoryStream((int)Math.Min(size, int.MaxValue));
            var buffer = new byte[Math.Clamp(size + 1, 1, 1 << 16)];
            for (long at = 0; ; at += buffer.Length)
            {
                long n = file.ReadAt(buffer, at);
                if (n < 0) return (int)-n;
                content.Write(buffer, 0, (int)n);
                if (n < buffer.Length) break;
            }
            bytes = content.ToArray();
            return 0;
        }
    }

    /// <summary>
    /// A read-only stream over this descriptor, which stays this file's: disposing the stream
    /// leaves it open. For parsers that want a Stream (JSON, UTF-8 checks).
    /// </summary>
    public FileStream ReadStream(int bufferSize = 1 << 16) =>
        new(new Microsoft.Win32.SafeHandles.SafeFileHandle(_fd, ownsHandle: false), FileAccess.Read, bufferSize);

    /// <summary>Reads at offset until the buffer is full or end of file. Returns bytes read or -errno.</summary>
    public unsafe long ReadAt(Span<byte> buffer, long offset)
    {
        long total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = Libc.PRead(_fd, p + total, (nint)(buffer.Length - total), offset + total);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    return -errno;
                }
                if (n == 0) break;
                total += n;
            }
        }
        return total;
    }

    /// <summary>Writes all bytes (at the end when opened O_APPEND). Returns 0 or errno.</summary>
    public unsafe int WriteAll(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            long done = 0;
            while (done < data.Length)
            {
                nint n = Libc.Write(_fd, p + done, (nint)(data.Length - done));
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    return errno;
                }
                done += n;
            }
        }
        return 0;
    }

    /// <summary>Writes all bytes at offset. Returns 0 or errno.</summary>
    public unsafe int WriteAllAt(ReadOnlySpan<byte> data, long offset)
    {
        fixed (byte* p = data)
        {
            long done = 0;
            while (done < data.Length)
            {
                nint n = Libc.PWrite(_fd, p + done, (nint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    return errno;
                }
                done += n;
            }
        }
        return 0;
    }

    public int Sync()
    {
        while (Libc.Fsync(_fd) != 0)   // a loop, not Retry: no delegate on the append path
            if (Marshal.GetLastPInvokeError() is var errno && errno != Libc.EINTR) return errno;
        return 0;
    }

    public int SetLength(long length) => Retry(() => Libc.FTruncate(_fd, length));

    /// <summary>fallocate(2) with FALLOC_FL_KEEP_SIZE: blocks for a later write, the size unchanged. Returns 0 or errno (EOPNOTSUPP where unsupported).</summary>
    public int Reserve(long offset, long length) => Retry(() => Libc.Fallocate(_fd, Libc.FALLOC_FL_KEEP_SIZE, offset, length));

    /// <summary>flock(2); blocking unless nonBlocking. Returns 0 or errno (EWOULDBLOCK when busy).</summary>
    public int Lock(bool exclusive, bool nonBlocking = false) =>
        Flock((exclusive ? Libc.LOCK_EX : Libc.LOCK_SH) | (nonBlocking ? Libc.LOCK_NB : 0));

    public int Unlock() => Flock(Libc.LOCK_UN);

    private int Flock(int operation)
    {
        while (Libc.Flock(_fd, operation) != 0)
            if (Marshal.GetLastPInvokeError() is var errno && errno != Libc.EINTR) return errno;
        return 0;
    }

    /// <summary>Size of the open file, or -errno.</summary>
    public long Length()
    {
        int errno = FileStatus.Fstat(_fd, out var st);
        return errno == 0 ? st.Size : -errno;
    }

    public int Status(out FileStatus status) => FileStatus.Fstat(_fd, out status);

    /// <summary>
    /// SPEC §2.5: gives the open file the owner, group and mode of <paramref name="owner"/>: a
    /// root daemon never leaves a file the store's user cannot replace. The ids change only
    /// when running as root (nobody else may give a file away).
    /// </summary>
    public int TakeOwner(FileOwner owner)
    {
        bool known = Status(out var st) == 0, chowned = false;
        if (Ownership.DaemonUid == 0 && known && (st.Uid != owner.Uid || st.Gid != owner.Gid))
        {
            int errno = Retry(() => Libc.FChown(_fd, owner.Uid, owner.Gid));
            if (errno != 0) return errno;
            chowned = true;   // chown clears set-id bits: the mode is set again below
        }
        if (owner.Mode is not { } mode || (known && !chowned && st.Permissions == mode)) return 0;   // already so: no inode change
        return Retry(() => Libc.FChmod(_fd, mode));
    }

    /// <summary>chown of the inode this descriptor holds (also an O_PATH one); uint.MaxValue leaves an id. 0 or errno.</summary>
    public int ChownEntry(uint uid, uint gid) => Retry(() => LibcPaths.FChownAt(_fd, "", uid, gid, Libc.AT_EMPTY_PATH));

    /// <summary>chmod of the inode this descriptor holds (an O_PATH one too, through /proc/self/fd). 0 or errno.</summary>
    public int ChmodEntry(uint mode) => Retry(() => LibcPaths.Chmod($"/proc/self/fd/{_fd}", mode));

    private static int Retry(Func<int> call)
    {
        while (true)
        {
            if (call() == 0) return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINTR) return errno;
        }
    }

    /// <summary>renameat2 of one name to another within this directory (plain names, no '/'). 0 or errno.</summary>
    public int RenameIn(string from, string to) => Retry(() => LibcPaths.RenameAt2(_fd, from, _fd, to, 0));

    /// <summary>fsync of a directory, so a rename or create in it is durable. Returns 0 or errno.</summary>
    public static int SyncDirectory(string directory)
    {
        int errno = Open(directory, ReadOnly | Directory, 0, out var dir);
        if (errno != 0) return errno;
        using (dir) return dir!.Sync();
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Libc.Close(fd);
    }
}

/// <summary>Who a file the mount writes belongs to; a null mode leaves the mode as created.</summary>
public readonly record struct FileOwner(uint Uid, uint Gid, uint? Mode = null)
{
    /// <summary>
    /// SPEC §2.5: a file that replaces another keeps its owner, group and mode; a new one is
    /// <paramref name="forNew"/>'s (a caller's), else its directory owner's with mode 0644 —
    /// with a set-gid directory's group, as natively.
    /// </summary>
    public static FileOwner For(string target, FileOwner? forNew = null)
    {
        if (FileStatus.Lstat(target, out var st) == 0 && st.IsRegular) return new FileOwner(st.Uid, st.Gid, st.Permissions);
        FileStatus.Lstat(Path.GetDirectoryName(target)!, out var dir);
        var owner = forNew ?? new FileOwner(dir.Uid, dir.Gid, 0x1A4);
        return dir.IsSetGid ? owner with { Gid = dir.Gid } : owner;
    }
}

/// <summary>A failed system call outside a hot path: carries the errno to the boundary.</summary>
public sealed class PosixException(int errno, string what)
    : StoreException(errno, $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");

using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>
/// The few libc calls the store needs with exact POSIX semantics (flock, O_APPEND, fsync of a
/// directory, statx) that the .NET base library does not expose. Each returns -1 and sets
/// errno on failure (read it with <see cref="Marshal.GetLastPInvokeError"/>).
/// </summary>
internal static partial class Libc
{
    // From the platform's headers through libvfsposix.so: they differ between architectures.
    private static readonly PosixConstants C = PosixNative.Constants;
    public static readonly int O_RDONLY = C.O_RDONLY, O_WRONLY = C.O_WRONLY, O_RDWR = C.O_RDWR;
    public static readonly int O_CREAT = C.O_CREAT, O_EXCL = C.O_EXCL, O_TRUNC = C.O_TRUNC, O_APPEND = C.O_APPEND;
    public static readonly int O_NONBLOCK = C.O_NONBLOCK, O_PATH = C.O_PATH;
    public static readonly int O_DIRECTORY = C.O_DIRECTORY, O_NOFOLLOW = C.O_NOFOLLOW, O_CLOEXEC = C.O_CLOEXEC;
    public static readonly int LOCK_SH = C.LOCK_SH, LOCK_EX = C.LOCK_EX, LOCK_NB = C.LOCK_NB, LOCK_UN = C.LOCK_UN;
    public static readonly int AT_FDCWD = C.AT_FDCWD, AT_SYMLINK_NOFOLLOW = C.AT_SYMLINK_NOFOLLOW;
    public static readonly int AT_EMPTY_PATH = C.AT_EMPTY_PATH, AT_REMOVEDIR = C.AT_REMOVEDIR;
    public static readonly long RESOLVE_BENEATH = C.RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS = C.RESOLVE_NO_SYMLINKS;
    public static readonly int PATH_MAX = C.PATH_MAX;
    public static readonly int EINTR = C.EINTR, ENOENT = C.ENOENT, EIO = C.EIO, ENXIO = C.ENXIO, EEXIST = C.EEXIST, EAGAIN = C.EAGAIN;
    public static readonly int ELOOP = C.ELOOP, EXDEV = C.EXDEV, ENOTDIR = C.ENOTDIR, EISDIR = C.EISDIR;
    public static readonly int EINVAL = C.EINVAL, ENAMETOOLONG = C.ENAMETOOLONG, ENOSYS = C.ENOSYS, EOPNOTSUPP = C.EOPNOTSUPP;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    public static unsafe partial nint PRead(int fd, byte* buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    public static unsafe partial nint PWrite(int fd, byte* buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long length);

    public static readonly int FALLOC_FL_KEEP_SIZE = C.FALLOC_FL_KEEP_SIZE;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, StatxBuffer* buf);

    /// <summary>statx with a path already encoded (UTF-8, NUL-terminated): no marshalling on hot paths.</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    public static unsafe partial int StatxAt(int dirfd, byte* path, int flags, uint mask, StatxBuffer* buf);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(int fd, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint GetEgid();

    [LibraryImport("libc", EntryPoint = "_exit")]
    public static partial void Exit(int status);

    [LibraryImport("libc", EntryPoint = "getpwuid_r", SetLastError = true)]
    public static unsafe partial int GetPwUidR(uint uid, byte* pwd, byte* buf, nint buflen, byte** result);
}

/// <summary>struct statx: the same layout on every Linux architecture, unlike struct stat.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatxBuffer
{
    public uint Mask;
    public uint BlkSize;
    public ulong Attributes;
    public uint Nlink;
    public uint Uid;
    public uint Gid;
    public ushort Mode;
    private ushort _spare0;
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;
    public ulong AttributesMask;
    public StatxTime Atime, Btime, Ctime, Mtime;
    public uint RdevMajor, RdevMinor, DevMajor, DevMinor;
    public ulong MntId;
    public uint DioMemAlign, DioOffsetAlign;
    private unsafe fixed ulong _spare3[12];
}

[StructLayout(LayoutKind.Sequential)]
internal struct StatxTime
{
    public long Sec;
    public uint Nsec;
    private int _reserved;
    public readonly long TotalNs => Sec * 1_000_000_000 + Nsec;
}

/// <summary>The *at calls <see cref="PathOps"/> makes relative to a directory descriptor.</summary>
internal static partial class LibcPaths
{
    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkdirAt(int dirfd, string name, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int dirfd, string name, int flags);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SymlinkAt(string target, int dirfd, string name);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint ReadLinkAt(int dirfd, string name, byte* buf, nint size);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MknodAt(int dirfd, string name, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LinkAt(int olddirfd, string oldname, int newdirfd, string newname, int flags);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FChownAt(int dirfd, string name, uint uid, uint gid, int flags);

    [LibraryImport("libc", EntryPoint = "gnu_dev_makedev")]
    public static partial ulong MakeDev(uint major, uint minor);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Utimensat(int dirfd, string path, long* times, int flags);
}

using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>What lstat tells of a path, in platform-neutral terms.</summary>
public readonly record struct FileStatus(
    ulong Inode, long Size, uint Mode, uint Links, uint Uid, uint Gid,
    long AccessNs, long ModifyNs, long ChangeNs, ulong Device = 0, uint RdevMajor = 0, uint RdevMinor = 0, long BirthNs = 0)
{
    /// <summary>statx's basic fields and the birth time (STATX_BASIC_STATS | STATX_BTIME).</summary>
    private const uint Wanted = 0x7FF | StatxBirth;
    private const uint StatxBirth = 0x800;

    public const uint TypeMask = 0xF000, TypeDirectory = 0x4000, TypeRegular = 0x8000, TypeSymlink = 0xA000;
    public const uint TypeFifo = 0x1000, TypeCharDevice = 0x2000, TypeBlockDevice = 0x6000, TypeSocket = 0xC000;
    public uint Type => Mode & TypeMask;

    public bool IsDirectory => (Mode & TypeMask) == TypeDirectory;
    public bool IsRegular => (Mode & TypeMask) == TypeRegular;
    public bool IsSymlink => (Mode & TypeMask) == TypeSymlink;

    /// <summary>A set-gid directory: what is made in it takes its group (and, a directory, the bit).</summary>
    public bool IsSetGid => (Mode & 0x400) != 0;
    public uint Permissions => Mode & 0xFFF;

    /// <summary>
    /// lstat (never follows a final symlink). Returns 0 or errno. A path in a store is resolved
    /// beneath its root (<see cref="StoreRoot.Lstat"/>): a symlink on the way is ELOOP.
    /// </summary>
    public static int Lstat(string path, out FileStatus status) =>
        StoreRoot.For(path) is { } root ? root.Lstat(path, out status) : LstatAnywhere(path, out status);

    /// <summary>Whether the name exists (whatever it is: a planted symlink exists, and opening it is then refused).</summary>
    public static bool Exists(string path) => Lstat(path, out _) == 0;

    private static unsafe int LstatAnywhere(string path, out FileStatus status)
    {
        StatxBuffer buf;
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Wanted, &buf) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }
        status = From(buf);
        return 0;
    }

    /// <summary>fstat of an open descriptor. Returns 0 or errno.</summary>
    public static unsafe int Fstat(int fd, out FileStatus status)
    {
        StatxBuffer buf;
        if (Libc.Statx(fd, "", Libc.AT_EMPTY_PATH, Wanted, &buf) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }
        status = From(buf);
        return 0;
    }

    /// <summary>statx of a NUL-terminated name relative to a directory descriptor, not following a final symlink. 0 or errno.</summary>
    internal static unsafe int StatAt(int dirfd, byte* name, out FileStatus status)
    {
        StatxBuffer buf;
        if (Libc.StatxAt(dirfd, name, Libc.AT_SYMLINK_NOFOLLOW, Wanted, &buf) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }
        status = From(buf);
        return 0;
    }

    /// <summary>The same file: device and inode.</summary>
    public bool IsSameFile(in FileStatus other) => Inode == other.Inode && Device == other.Device;

    private static FileStatus From(in StatxBuffer b) => new(
        b.Ino, (long)b.Size, b.Mode, b.Nlink, b.Uid, b.Gid, b.Atime.TotalNs, b.Mtime.TotalNs, b.Ctime.TotalNs,
        ((ulong)b.DevMajor << 32) | b.DevMinor, b.RdevMajor, b.RdevMinor,
        (b.Mask & StatxBirth) != 0 ? b.Btime.TotalNs : 0);   // 0 where the filesystem keeps none
}

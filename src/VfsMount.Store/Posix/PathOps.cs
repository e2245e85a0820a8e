using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>Path system calls that never follow a final symlink; each returns 0 or errno.</summary>
public static class PathOps
{
    public const uint RenameNoReplace = 1, RenameExchange = 2;
    private const long UtimeOmit = (1L << 30) - 2;

    public static int Mkdir(string path, uint mode) => Call(LibcPaths.Mkdir(path, mode));
    public static int Rmdir(string path) => Call(LibcPaths.Rmdir(path));
    public static int Unlink(string path) => Call(LibcPaths.Unlink(path));
    public static int Symlink(string target, string linkPath) => Call(LibcPaths.Symlink(target, linkPath));
    public static int Chmod(string path, uint mode) => Call(LibcPaths.Chmod(path, mode));
    public static int Link(string existing, string newPath) => Call(LibcPaths.Link(existing, newPath));

    /// <summary>mknod(2): type bits (FileStatus.Type*) with the permission bits; a device's major and minor.</summary>
    public static int Mknod(string path, uint mode, uint major, uint minor) =>
        Call(LibcPaths.Mknod(path, mode, LibcPaths.MakeDev(major, minor)));

    /// <summary>chown of the path itself, never of a symlink's target; uint.MaxValue leaves an id as is.</summary>
    public static int LChown(string path, uint uid, uint gid) => Call(LibcPaths.LChown(path, uid, gid));

    public static int Rename(string from, string to, uint flags) =>
        Call(LibcPaths.RenameAt2(Libc.AT_FDCWD, from, Libc.AT_FDCWD, to, flags));

    /// <summary>Sets access/modify times (ns since the epoch; null leaves one as is) of the path itself.</summary>
    public static unsafe int SetTimes(string path, long? accessNs, long? modifyNs)
    {
        long* times = stackalloc long[4];
        Fill(times, accessNs);
        Fill(times + 2, modifyNs);
        return Call(LibcPaths.Utimensat(Libc.AT_FDCWD, path, times, Libc.AT_SYMLINK_NOFOLLOW));
    }

    public static int ReadLink(string path, out string target)
    {
        try
        {
            target = new FileInfo(path).LinkTarget ?? "";
            return target.Length == 0 ? 22 : 0;
        }
        catch (IOException e)
        {
            target = "";
            return StoreException.ErrnoOf(e);
        }
    }

    private static unsafe void Fill(long* ts, long? ns)
    {
        if (ns is { } v) { ts[0] = v / 1_000_000_000; ts[1] = v % 1_000_000_000; }
        else { ts[0] = 0; ts[1] = UtimeOmit; }
    }

    private static int Call(int result) => result == 0 ? 0 : Marshal.GetLastPInvokeError();
}

using System.Runtime.InteropServices;
using System.Text;

namespace VfsMount.Store.Posix;

/// <summary>
/// Path system calls that never follow a final symlink; each returns 0 or errno. A path in a
/// store is split into its directory, opened beneath the store's root (<see cref="StoreRoot.OpenParent"/>:
/// no symlink on the way is followed), and its last name, and the call is the *at call relative
/// to that directory's descriptor; other paths go as they are.
/// </summary>
public static class PathOps
{
    public const uint RenameNoReplace = 1, RenameExchange = 2;   // linux/fs.h: the same on every architecture
    private const long UtimeOmit = (1L << 30) - 2;

    public static int Mkdir(string path, uint mode) => At(path, (dir, name) => LibcPaths.MkdirAt(dir, name, mode));
    public static int Rmdir(string path) => At(path, (dir, name) => LibcPaths.UnlinkAt(dir, name, Libc.AT_REMOVEDIR));
    public static int Unlink(string path) => At(path, (dir, name) => LibcPaths.UnlinkAt(dir, name, 0));
    public static int Symlink(string target, string linkPath) => At(linkPath, (dir, name) => LibcPaths.SymlinkAt(target, dir, name));

    /// <summary>A hard link; both names in one store (linkat, no symlink followed).</summary>
    public static int Link(string existing, string newPath)
    {
        int errno = OpenParent(existing, out var fromDir, out string fromName);
        if (errno != 0) return errno;
        using (fromDir)
            return At(newPath, (dir, name) => LibcPaths.LinkAt(Fd(fromDir), fromName, dir, name, 0));
    }

    /// <summary>mknod(2): type bits (FileStatus.Type*) with the permission bits; a device's major and minor.</summary>
    public static int Mknod(string path, uint mode, uint major, uint minor) =>
        At(path, (dir, name) => LibcPaths.MknodAt(dir, name, mode, LibcPaths.MakeDev(major, minor)));

    /// <summary>chown of the entry itself, never of a symlink's target; uint.MaxValue leaves an id as is.</summary>
    public static int LChown(string path, uint uid, uint gid) =>
        At(path, (dir, name) => LibcPaths.FChownAt(dir, name, uid, gid, Libc.AT_SYMLINK_NOFOLLOW));

    /// <summary>
    /// chmod of the entry itself, never of what a symlink names: a symlink is EOPNOTSUPP, as
    /// fchmodat(AT_SYMLINK_NOFOLLOW) answers on Linux. The mode goes to the inode opened
    /// O_PATH (through /proc/self/fd, as glibc's fchmodat does), so nothing swapped in after the
    /// check is changed instead.
    /// </summary>
    public static int Chmod(string path, uint mode)
    {
        int errno = OpenEntry(path, out var entry);
        if (errno != 0) return errno;
        using (entry)
        {
            errno = entry!.Status(out var st);
            if (errno != 0) return errno;
            if (st.IsSymlink) return Libc.EOPNOTSUPP;
            return Call(LibcPaths.Chmod($"/proc/self/fd/{entry.Descriptor}", mode));
        }
    }

    /// <summary>An O_PATH descriptor of the entry itself (a symlink stays a symlink).</summary>
    /// <summary>An O_PATH descriptor of the entry itself (beneath the root for a store path). Returns 0 or errno.</summary>
    public static int OpenEntry(string path, out PosixFile? entry)
    {
        if (StoreRoot.For(path) is { } root) return root.OpenEntry(path, out entry);
        int fd = PosixNative.vfs_openat2(Libc.AT_FDCWD, path, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0, 0);
        entry = fd >= 0 ? PosixFile.FromDescriptor(fd) : null;
        return fd >= 0 ? 0 : -fd;
    }

    /// <summary>mkdir that accepts an existing directory (not a symlink or file there). Returns 0 or errno.</summary>
    /// <remarks>One it makes takes its parent's owner (SPEC §2.5: the mount's own files are the store owner's).</remarks>
    public static int MakeDirectory(string path, uint mode = 0x1FF)
    {
        int errno = Mkdir(path, mode);
        if (errno == 0) Ownership.TakeParentsOwner(path);
        if (errno != Libc.EEXIST) return errno;
        errno = FileStatus.Lstat(path, out var st);
        return errno != 0 ? errno : st.IsDirectory ? 0 : st.IsSymlink ? Libc.ELOOP : Libc.ENOTDIR;
    }

    /// <summary>
    /// The names in a directory (not "." and ".."), or errno. In a store the directory is opened
    /// beneath the root and listed through its descriptor (/proc/self/fd), so a symlink on the
    /// way is ELOOP rather than a listing of somewhere else.
    /// </summary>
    public static int List(string directory, out IReadOnlyList<string> names)
    {
        names = [];
        PosixFile? dir = null;
        if (StoreRoot.For(directory) is { } root)
        {
            int errno = root.OpenDirectory(directory, out dir);
            if (errno != 0) return errno;
        }
        using (dir)
        {
            try
            {
                names = System.IO.Directory.EnumerateFileSystemEntries(dir is null ? directory : $"/proc/self/fd/{dir.Descriptor}")
                    .Select(p => Path.GetFileName(p)).ToList();
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return StoreException.ErrnoOf(e);
            }
        }
    }

    /// <summary>
    /// Visits every entry under a store directory, each directory's entries before it and the
    /// directory itself last, one name at a time beneath the root: a directory swapped for a
    /// symlink meanwhile is visited as the symlink, or ELOOP — never followed (.NET's recursive
    /// enumerations and Directory.Delete reopen subdirectories by path). Stops at the first errno.
    /// </summary>
    public static int PostOrder(string directory, Func<string, bool, int> visit)
    {
        int errno = List(directory, out var names);
        if (errno != 0) return errno;
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            HoldPoint.Hit("walk-entry", path);
            errno = FileStatus.Lstat(path, out var st);
            if (errno == 0) errno = st.IsDirectory ? PostOrder(path, visit) : visit(path, false);
            if (errno != 0 && errno != Libc.ENOENT) return errno;
        }
        return visit(directory, true);
    }

    /// <summary>rm -r of a store directory (see <see cref="PostOrder"/>). Returns 0 or errno.</summary>
    public static int RemoveTree(string directory) =>
        PostOrder(directory, (path, isDirectory) => isDirectory ? Rmdir(path) : Unlink(path));

    public static int Rename(string from, string to, uint flags)
    {
        int errno = OpenParent(from, out var fromDir, out string fromName);
        if (errno != 0) return errno;
        using (fromDir)
        {
            errno = OpenParent(to, out var toDir, out string toName);
            if (errno != 0) return errno;
            using (toDir)
                return Call(LibcPaths.RenameAt2(Fd(fromDir), fromName, Fd(toDir), toName, flags));
        }
    }

    /// <summary>Sets access/modify times (ns since the epoch; null leaves one as is) of the path itself.</summary>
    public static unsafe int SetTimes(string path, long? accessNs, long? modifyNs)
    {
        long* times = stackalloc long[4];
        Fill(times, accessNs);
        Fill(times + 2, modifyNs);
        return At(path, (dir, name) => LibcPaths.Utimensat(dir, name, times, Libc.AT_SYMLINK_NOFOLLOW));
    }

    public static unsafe int ReadLink(string path, out string target)
    {
        target = "";
        int errno = OpenParent(path, out var dir, out string name);
        if (errno != 0) return errno;
        using (dir)
        {
            var buffer = new byte[Libc.PATH_MAX];
            nint n;
            fixed (byte* p = buffer) n = LibcPaths.ReadLinkAt(Fd(dir), name, p, buffer.Length);
            if (n < 0) return Marshal.GetLastPInvokeError();
            target = Encoding.UTF8.GetString(buffer, 0, (int)n);
            return 0;
        }
    }

    private delegate int AtCall(int dirfd, string name);

    private static int At(string path, AtCall call)
    {
        int errno = OpenParent(path, out var dir, out string name);
        if (errno != 0) return errno;
        using (dir) return Call(call(Fd(dir), name));
    }

    /// <summary>The store directory of path and its last name; outside a store, no directory (AT_FDCWD) and the path itself.</summary>
    private static int OpenParent(string path, out PosixFile? dir, out string name)
    {
        if (StoreRoot.For(path) is { } root) return root.OpenParent(path, out dir, out name);
        dir = null;
        name = path;
        return 0;
    }

    private static int Fd(PosixFile? dir) => dir?.Descriptor ?? Libc.AT_FDCWD;

    private static unsafe void Fill(long* ts, long? ns)
    {
        if (ns is { } v) { ts[0] = v / 1_000_000_000; ts[1] = v % 1_000_000_000; }
        else { ts[0] = 0; ts[1] = UtimeOmit; }
    }

    private static int Call(int result) => result == 0 ? 0 : Marshal.GetLastPInvokeError();
}

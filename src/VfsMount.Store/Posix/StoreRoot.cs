using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VfsMount.Store.Posix;

/// <summary>
/// The store's root directory, opened once; every open beneath it is an
/// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) relative to that descriptor, so no planted
/// symlink (ELOOP), ".." or swapped directory takes the daemon outside the store, whatever
/// the path's prefix does later. A regular file is opened with O_NONBLOCK and its type checked
/// with fstat before anything reads or locks it: a planted FIFO or device is refused (EIO,
/// logged in one line), never waited on.
/// </summary>
/// <remarks>
/// Transparent to callers: <see cref="PosixFile.Open"/>, <see cref="FileStatus.Lstat"/> and
/// <see cref="PathOps"/> find the registered root that holds a path (<see cref="For"/>) and
/// resolve beneath it; a path under no store root is opened as before. A relative path of
/// PATH_MAX or more is walked in chunks shorter than PATH_MAX, each opened beneath the last,
/// so the store's own prefix adds no PATH_MAX limit.
/// </remarks>
public sealed class StoreRoot : IDisposable
{
    private static readonly ConcurrentDictionary<string, WeakReference<StoreRoot>> Registered = new(StringComparer.Ordinal);

    private readonly SafeFileHandle _fd;

    private StoreRoot(string path, SafeFileHandle fd)
    {
        Path = path;
        _fd = fd;
    }

    /// <summary>The root's full path as callers spell it (a prefix of every store path).</summary>
    public string Path { get; }

    private static long Beneath => Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS;

    /// <summary>
    /// Opens the directory (following a symlink there: where the user keeps the store is theirs
    /// to choose) and registers it, so opens of paths under it go beneath it from now on.
    /// </summary>
    public static StoreRoot Open(string path)
    {
        path = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        int fd = PosixNative.vfs_openat2(Libc.AT_FDCWD, path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, 0);
        if (fd < 0) throw new PosixException(-fd, $"open store root {path}");
        var root = new StoreRoot(path, new SafeFileHandle(fd, ownsHandle: true));
        foreach (var (key, weak) in Registered)
            if (!weak.TryGetTarget(out _)) Registered.TryRemove(key, out _);
        Registered[path] = new WeakReference<StoreRoot>(root);
        return root;
    }

    /// <summary>The registered root that holds path (the deepest, if roots nest), or null.</summary>
    public static StoreRoot? For(string path)
    {
        StoreRoot? best = null;
        foreach (var (key, weak) in Registered)
            if (Holds(key, path) && (best is null || key.Length > best.Path.Length) && weak.TryGetTarget(out var root))
                best = root;
        return best;
    }

    private static bool Holds(string root, string path) =>
        path.StartsWith(root, StringComparison.Ordinal) && (path.Length == root.Length || path[root.Length] == '/');

    /// <summary>path relative to the root ("." for the root itself).</summary>
    private string Relative(string storePath)
    {
        if (!Holds(Path, storePath)) throw new ArgumentException($"{storePath} is not in the store {Path}");
        return storePath.Length == Path.Length ? "." : storePath[(Path.Length + 1)..];
    }

    /// <summary>
    /// Opens a store file that must be regular (a directory with O_DIRECTORY in flags). Returns
    /// 0 or errno: ELOOP for a symlink anywhere on the way, EXDEV for a way out, EIO (logged)
    /// for a FIFO, socket or device where a regular file belongs.
    /// </summary>
    public int Open(string storePath, int flags, uint mode, out PosixFile? file)
    {
        bool directory = (flags & Libc.O_DIRECTORY) != 0;
        // openat2 refuses a mode without O_CREAT (EINVAL) where open(2) ignores it.
        int fd = OpenBeneath(Relative(storePath), flags | Libc.O_NONBLOCK | Libc.O_CLOEXEC, (flags & Libc.O_CREAT) != 0 ? mode : 0);
        if (fd == -Libc.ENXIO)
        {
            Log(storePath, "not a regular file (a FIFO without a reader, or a socket); not opened", Libc.EIO);
            fd = -Libc.EIO;
        }
        else if (fd == -Libc.ELOOP || fd == -Libc.EXDEV)
            Log(storePath, fd == -Libc.ELOOP ? "a symlink (on the way or at the end); not followed" : "leads out of the store", -fd);
        if (fd < 0)
        {
            file = null;
            return -fd;
        }
        file = PosixFile.FromDescriptor(fd);
        int errno = file.Status(out var st);
        if (errno == 0 && !(directory ? st.IsDirectory : st.IsRegular))
        {
            Log(storePath, $"a {TypeName(st.Mode)} where a {(directory ? "directory" : "regular file")} belongs; not opened", Libc.EIO);
            errno = Libc.EIO;
        }
        if (errno == 0 && (flags & Libc.O_NONBLOCK) == 0 && !directory) errno = -PosixNative.vfs_clear_nonblock(fd);
        if (errno != 0)
        {
            file.Dispose();
            file = null;
        }
        return errno;
    }

    /// <summary>
    /// An O_PATH descriptor of a directory beneath the root, for *at calls (mkdirat, unlinkat,
    /// renameat2, openat2 of a name in it …): 0 or errno (ELOOP for a symlink on the way,
    /// ENOTDIR for something else). The descriptor pins the directory: a later swap of any
    /// name above it changes nothing for calls relative to it.
    /// </summary>
    public int OpenDirectory(string storePath, out PosixFile? directory)
    {
        int fd = OpenBeneath(Relative(storePath), Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        directory = fd >= 0 ? PosixFile.FromDescriptor(fd) : null;
        return fd >= 0 ? 0 : -fd;
    }

    /// <summary>The directory holding storePath (as <see cref="OpenDirectory"/>) and the last name in it.</summary>
    public int OpenParent(string storePath, out PosixFile? directory, out string name)
    {
        int slash = storePath.LastIndexOf('/');
        name = storePath[(slash + 1)..];
        if (slash < Path.Length || name is "" or "." or "..")
        {
            directory = null;
            return Libc.EINVAL;   // the root itself has no parent in the store
        }
        return OpenDirectory(storePath[..slash], out directory);
    }

    /// <summary>An O_PATH descriptor of the entry itself beneath the root (a symlink stays a symlink). 0 or errno.</summary>
    public int OpenEntry(string storePath, out PosixFile? entry)
    {
        int fd = OpenBeneath(Relative(storePath), Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        entry = fd >= 0 ? PosixFile.FromDescriptor(fd) : null;
        return fd >= 0 ? 0 : -fd;
    }

    /// <summary>lstat beneath the root: the entry itself, never what a symlink on the way leads to. 0 or errno.</summary>
    public int Lstat(string storePath, out FileStatus status)
    {
        status = default;
        int errno = OpenEntry(storePath, out var entry);
        if (errno != 0) return errno;
        using (entry) return entry!.Status(out status);
    }

    /// <summary>
    /// statx of a store path by name relative to the root descriptor, opening nothing: for
    /// <see cref="NameProbe"/>, which only compares what it finds with a descriptor already held.
    /// relativeZ is the path below the root, UTF-8, NUL-terminated. 0 or errno.
    /// </summary>
    internal unsafe int StatRelative(byte[] relativeZ, out FileStatus status)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* path = relativeZ) return FileStatus.StatAt((int)_fd.DangerousGetHandle(), path, out status);
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>The store path below the root, as <see cref="StatRelative"/> takes it.</summary>
    internal byte[] RelativeZ(string storePath) => System.Text.Encoding.UTF8.GetBytes(Relative(storePath) + "\0");

    /// <summary>openat2 beneath the root; a path of PATH_MAX or more in chunks at '/' boundaries. A descriptor or -errno.</summary>
    private int OpenBeneath(string relative, int flags, uint mode)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            int dir = (int)_fd.DangerousGetHandle(), owned = -1;
            while (Encoded(relative) >= Libc.PATH_MAX)
            {
                int cut = ChunkEnd(relative);
                if (cut <= 0) return Close(owned, -Libc.ENAMETOOLONG);   // one name longer than PATH_MAX
                int next = PosixNative.vfs_openat2(dir, relative[..cut], Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, Beneath);
                Close(owned, 0);
                if (next < 0) return next;
                dir = owned = next;
                relative = relative[(cut + 1)..];
            }
            return Close(owned, PosixNative.vfs_openat2(dir, relative, flags, mode, Beneath));
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    private static int Encoded(string s) => System.Text.Encoding.UTF8.GetByteCount(s);

    /// <summary>The last '/' before PATH_MAX bytes, so the chunk before it fits openat2.</summary>
    private static int ChunkEnd(string relative)
    {
        int cut = -1;
        for (int i = relative.IndexOf('/'); i > 0 && Encoded(relative[..i]) < Libc.PATH_MAX; i = relative.IndexOf('/', i + 1))
            cut = i;
        return cut;
    }

    private static int Close(int fd, int result)
    {
        if (fd >= 0) Libc.Close(fd);
        return result;
    }

    /// <summary>
    /// Logs (one line) and returns the refusal of a store file that is not what the store puts
    /// there, for callers that found it by lstat: ELOOP for a symlink, EIO for a FIFO, socket or device.
    /// </summary>
    public static StoreException Planted(string storePath, in FileStatus found, string expected = "regular file")
    {
        return Refused(storePath, $"a {TypeName(found.Mode)} where chibi keeps a {expected}; not followed", found.IsSymlink ? Libc.ELOOP : Libc.EIO);
    }

    /// <summary>Logs (one line) and returns a refusal of a store path for what the caller found there.</summary>
    public static StoreException Refused(string storePath, string what, int errno)
    {
        Log(storePath, what, errno);
        return new StoreException(errno, $"{storePath}: {what}");
    }

    /// <summary>One line, whatever bytes the name holds.</summary>
    private static void Log(string storePath, string what, int errno)
    {
        string name = errno == Libc.EIO ? "EIO" : errno == Libc.ELOOP ? "ELOOP" : errno == Libc.EXDEV ? "EXDEV" : $"errno {errno}";
        Console.Error.WriteLine(string.Concat($"vfsmount: refused {storePath}: {what} ({name})".Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString())));
    }

    private static string TypeName(uint mode) => (mode & FileStatus.TypeMask) switch
    {
        0x1000 => "FIFO",
        0x2000 => "character device",
        0x6000 => "block device",
        0xC000 => "socket",
        FileStatus.TypeDirectory => "directory",
        FileStatus.TypeSymlink => "symlink",
        _ => $"file of type {mode >> 12:o}",
    };

    /// <summary>Unregisters and closes the root descriptor; opens under it are plain opens again.</summary>
    public void Dispose()
    {
        if (Registered.TryGetValue(Path, out var weak) && weak.TryGetTarget(out var current) && current == this)
            Registered.TryRemove(Path, out _);
        _fd.Dispose();
    }
}

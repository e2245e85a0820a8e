using System.Reflection;
using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>
/// Calls into native/vfsposix.c (libvfsposix.so): the C library's constants as this platform's
/// headers define them (O_DIRECTORY is 0x10000 on x86-64 but 0x4000 on arm64), and openat2,
/// which glibc does not wrap. native/vfsposix.h is the contract; the struct mirrors it.
/// </summary>
internal static unsafe partial class PosixNative
{
    private const string Library = "vfsposix";

    /// <summary>Must equal VFS_POSIX_ABI_VERSION in native/vfsposix.h.</summary>
    internal const int AbiVersion = 1;

    /// <summary>Read once, checked against this side's version and size before any use.</summary>
    internal static readonly PosixConstants Constants = Load();

    private static PosixConstants Load()
    {
        // libvfsposix.so sits beside this assembly (copied by VfsMount.Store.csproj): load it from
        // there, so neither LD_LIBRARY_PATH nor the host's probing rules matter.
        NativeLibrary.SetDllImportResolver(typeof(PosixNative).Assembly, Resolve);
        PosixConstants c;
        int version = vfs_posix_constants(&c, sizeof(PosixConstants));
        if (version != AbiVersion || c.Size != sizeof(PosixConstants))
            throw new InvalidOperationException(
                $"INTERNAL ERROR: libvfsposix.so has ABI version {version} (struct of {c.Size} bytes), this build expects {AbiVersion} ({sizeof(PosixConstants)} bytes); rebuild native/");
        // FileStatus's type bits are constants (patterns use them): the platform must agree.
        if ((uint)c.S_IFMT != FileStatus.TypeMask || (uint)c.S_IFDIR != FileStatus.TypeDirectory
            || (uint)c.S_IFREG != FileStatus.TypeRegular || (uint)c.S_IFLNK != FileStatus.TypeSymlink)
            throw new InvalidOperationException("INTERNAL ERROR: this platform's S_IF* values differ from FileStatus's");
        return c;
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library) return 0;
        string? dir = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(dir)) dir = AppContext.BaseDirectory;
        return NativeLibrary.TryLoad(Path.Combine(dir, "libvfsposix.so"), out nint handle) ? handle : 0;
    }

    [LibraryImport(Library)]
    private static partial int vfs_posix_constants(PosixConstants* constants, int capacity);

    /// <summary>openat2(2): a descriptor or -errno (EINTR retried in C).</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vfs_openat2(int dirfd, string path, long flags, long mode, long resolve);

    /// <summary>Clears O_NONBLOCK: 0 or -errno.</summary>
    [LibraryImport(Library)]
    internal static partial int vfs_clear_nonblock(int fd);
}

/// <summary>struct vfs_posix_constants, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PosixConstants
{
    public int Size;
    public int O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK;
    public int O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC, O_PATH;
    public int AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, AT_REMOVEDIR;
    public int RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS;
    public int LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN, FALLOC_FL_KEEP_SIZE;
    public int S_IFMT, S_IFDIR, S_IFREG, S_IFLNK;
    public int PATH_MAX;
    public int EPERM, ENOENT, EINTR, EIO, ENXIO, EAGAIN, EACCES, EEXIST, EXDEV, ENOTDIR;
    public int EISDIR, EINVAL, ENOSPC, ENAMETOOLONG, ENOSYS, ENOTEMPTY, ELOOP, EOPNOTSUPP;
}

using System.Reflection;
using System.Runtime.InteropServices;

namespace VfsMount.Fuse;

/// <summary>
/// Calls into native/vfsfuse.c (libvfsfuse.so) and the structs that cross that boundary;
/// native/vfsfuse.h is the contract. Every struct here mirrors one there field for field.
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const string Library = "vfsfuse";

    /// <summary>Must equal VFS_ABI_VERSION in native/vfsfuse.h.</summary>
    internal const int AbiVersion = 2;

    internal const uint KindDir = 0, KindReg = 1, KindSymlink = 2;
    internal const uint OAccMode = 3, OAppend = 4, OTrunc = 8, OCreat = 16, OExcl = 32;
    internal const uint RenameNoReplace = 1, RenameExchange = 2;
    internal const long TimeOmit = long.MinValue;

    static NativeMethods()
    {
        // libvfsfuse.so sits beside this assembly (copied by VfsMount.Fuse.csproj); look there
        // first so neither LD_LIBRARY_PATH nor the host's probing rules matter.
        NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library)
            return 0;
        string? dir = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(dir))
            dir = AppContext.BaseDirectory;
        return NativeLibrary.TryLoad(Path.Combine(dir, "libvfsfuse.so"), out nint handle) ? handle : 0;
    }

    [LibraryImport(Library)]
    internal static partial int vfs_abi_version();

    [LibraryImport(Library)]
    internal static partial int vfs_fill_dir(void* fillCtx, byte* name, uint kind);

    [LibraryImport(Library)]
    internal static partial int vfs_mount(byte* mountpoint, byte** options, VfsOps* ops, nint state,
        out nint session, byte* errbuf, uint errbufLen);

    [LibraryImport(Library)]
    internal static partial int vfs_loop(FuseSessionHandle session, int maxThreads);

    [LibraryImport(Library)]
    internal static partial void vfs_exit(FuseSessionHandle session);

    [LibraryImport(Library)]
    internal static partial void vfs_destroy(nint session);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vfs_invalidate_path(FuseSessionHandle session, string path);
}

/// <summary>vfs_attr: 56 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsAttr
{
    public uint Kind;
    public uint Perm;
    public long Size;
    public long AtimeNs;
    public long MtimeNs;
    public long CtimeNs;
    public uint Nlink;
    public uint Uid;
    public uint Gid;
    public uint Reserved;
}

/// <summary>vfs_statfs: 64 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsStatFs
{
    public ulong Bsize;
    public ulong Frsize;
    public ulong Blocks;
    public ulong Bfree;
    public ulong Bavail;
    public ulong Files;
    public ulong Ffree;
    public ulong Namemax;
}

/// <summary>vfs_ops: one C function pointer per operation, in header order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VfsOps
{
    public delegate* unmanaged[Cdecl]<void*, byte*, ulong, int, VfsAttr*, int> GetAttr;
    public delegate* unmanaged[Cdecl]<void*, byte*, void*, int> ReadDir;
    public delegate* unmanaged[Cdecl]<void*, byte*, uint, uint, uint, int, ulong*, int*, int*, int> Open;
    public delegate* unmanaged[Cdecl]<void*, byte*, uint, uint, uint, uint, int, ulong*, int*, int*, int> Create;
    public delegate* unmanaged[Cdecl]<void*, ulong, byte*, uint, long, int> Read;
    public delegate* unmanaged[Cdecl]<void*, ulong, byte*, uint, long, int> Write;
    public delegate* unmanaged[Cdecl]<void*, ulong, int> Flush;
    public delegate* unmanaged[Cdecl]<void*, ulong, int> Release;
    public delegate* unmanaged[Cdecl]<void*, ulong, int, int> Fsync;
    public delegate* unmanaged[Cdecl]<void*, byte*, long, ulong, int, int> Truncate;
    public delegate* unmanaged[Cdecl]<void*, byte*, int> Unlink;
    public delegate* unmanaged[Cdecl]<void*, byte*, uint, uint, uint, int, int> Mkdir;
    public delegate* unmanaged[Cdecl]<void*, byte*, int> Rmdir;
    public delegate* unmanaged[Cdecl]<void*, byte*, byte*, uint, int> Rename;
    public delegate* unmanaged[Cdecl]<void*, byte*, byte*, int> Symlink;
    public delegate* unmanaged[Cdecl]<void*, byte*, byte*, uint, int> ReadLink;
    public delegate* unmanaged[Cdecl]<void*, byte*, uint, int> Chmod;
    public delegate* unmanaged[Cdecl]<void*, byte*, long, long, int> Utimens;
    public delegate* unmanaged[Cdecl]<void*, byte*, VfsStatFs*, int> StatFs;
}

/// <summary>
/// Owns a mounted vfs session and the GCHandle through which callbacks reach their
/// <see cref="FuseHost"/>. Released (vfs_destroy, then the GCHandle freed) only after every
/// in-flight native call on it has returned — SafeHandle's reference count keeps a running
/// vfs_loop or vfs_invalidate_path from racing the free.
/// </summary>
internal sealed class FuseSessionHandle : SafeHandle
{
    private GCHandle _state;

    public FuseSessionHandle(nint session, GCHandle state) : base(0, ownsHandle: true)
    {
        SetHandle(session);
        _state = state;
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        NativeMethods.vfs_destroy(handle);
        if (_state.IsAllocated)
            _state.Free();
        return true;
    }
}

internal static class StructSizeChecks
{
    // The layouts above must match vfsfuse.h; checked once when a host mounts.
    internal static unsafe bool Ok() =>
        sizeof(VfsAttr) == 56 && sizeof(VfsStatFs) == 64 && sizeof(VfsOps) == 19 * sizeof(nint);
}

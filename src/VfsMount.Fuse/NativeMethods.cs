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
    internal const int AbiVersion = 4;

    internal const uint KindDir = 0, KindReg = 1, KindSymlink = 2, KindFifo = 3, KindSocket = 4, KindChar = 5, KindBlock = 6;
    internal const uint OAccMode = 3, OAppend = 4, OTrunc = 8, OCreat = 16, OExcl = 32;
    internal const uint RenameNoReplace = 1, RenameExchange = 2;
    internal const long TimeOmit = long.MinValue;
    internal const uint SetMode = 1, SetUid = 2, SetGid = 4, SetSize = 8, SetAtime = 16, SetMtime = 32;

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
    internal static partial int vfs_add_dirent(void* dirCtx, byte* name, long nextOff, VfsEntry* entry);

    [LibraryImport(Library)]
    internal static partial int vfs_mount(byte* mountpoint, byte** options, VfsOps* ops, nint state,
        out nint session, byte* errbuf, uint errbufLen);

    [LibraryImport(Library)]
    internal static partial int vfs_loop(FuseSessionHandle session, int maxThreads);

    [LibraryImport(Library)]
    internal static partial void vfs_exit(FuseSessionHandle session);

    [LibraryImport(Library)]
    internal static partial void vfs_destroy(nint session);

    [LibraryImport(Library)]
    internal static partial int vfs_notify_inval_entry(FuseSessionHandle session, ulong parent, byte* name);

    [LibraryImport(Library)]
    internal static partial int vfs_notify_inval_inode(FuseSessionHandle session, ulong ino, long off, long len);
}

/// <summary>vfs_req: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsReq
{
    public uint Uid;
    public uint Gid;
    public int Pid;
    public uint Umask;
}

/// <summary>vfs_attr: 72 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsAttr
{
    public ulong Ino;
    public uint Kind;
    public uint Perm;
    public long Size;
    public long AtimeNs;
    public long MtimeNs;
    public long CtimeNs;
    public uint Nlink;
    public uint Uid;
    public uint Gid;
    public uint Rdev;
    public long AttrTimeoutNs;
}

/// <summary>vfs_entry: 96 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsEntry
{
    public ulong Ino;
    public ulong Generation;
    public long EntryTimeoutNs;
    public VfsAttr Attr;
}

/// <summary>vfs_open: 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VfsOpen
{
    public ulong Fh;
    public int DirectIo;
    public int KeepCache;
    public int NoFlush;
    public int Reserved;
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
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, VfsEntry*, int> Lookup;
    public delegate* unmanaged[Cdecl]<void*, ulong, ulong, void> Forget;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, ulong, int, VfsAttr*, int> GetAttr;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, ulong, int, uint, uint, uint, uint, long, long, long, VfsAttr*, int> SetAttr;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, uint, int> ReadLink;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, uint, VfsEntry*, int> Mkdir;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, int> Unlink;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, int> Rmdir;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, byte*, ulong, byte*, VfsEntry*, int> Symlink;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, ulong, byte*, uint, int> Rename;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, uint, VfsOpen*, int> Open;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, uint, uint, VfsEntry*, VfsOpen*, int> Create;
    public delegate* unmanaged[Cdecl]<void*, ulong, byte*, uint, long, int> Read;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, uint, long, int> Write;
    public delegate* unmanaged[Cdecl]<void*, ulong, int> Flush;
    public delegate* unmanaged[Cdecl]<void*, ulong, int> Release;
    public delegate* unmanaged[Cdecl]<void*, ulong, int, int> Fsync;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, VfsOpen*, int> OpenDir;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, ulong, long, int, void*, int> ReadDir;
    public delegate* unmanaged[Cdecl]<void*, ulong, int> ReleaseDir;
    public delegate* unmanaged[Cdecl]<void*, ulong, VfsStatFs*, int> StatFs;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, byte*, uint, uint, uint, VfsEntry*, int> Mknod;
    public delegate* unmanaged[Cdecl]<void*, VfsReq*, ulong, ulong, byte*, VfsEntry*, int> Link;
}

/// <summary>
/// Owns a mounted vfs session and the GCHandle through which callbacks reach their
/// <see cref="FuseHost"/>. Released (vfs_destroy, then the GCHandle freed) only after every
/// in-flight native call on it has returned — SafeHandle's reference count keeps a running
/// vfs_loop or vfs_notify_* from racing the free.
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
        sizeof(VfsReq) == 16 && sizeof(VfsAttr) == 72 && sizeof(VfsEntry) == 96 && sizeof(VfsOpen) == 24
        && sizeof(VfsStatFs) == 64 && sizeof(VfsOps) == 23 * sizeof(nint);
}

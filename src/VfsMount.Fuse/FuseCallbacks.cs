using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// The callbacks libvfsfuse.so calls on libfuse's worker threads, concurrently. This is the
/// only code that translates between the native ABI (vfsfuse.h) and <see cref="IFileSystem"/>.
/// <para>
/// Every body is an exception firewall: an exception escaping into native code kills the
/// process, so each one is caught, logged in one line, and answered with EIO.
/// </para>
/// <para>
/// <c>state</c> is a GCHandle to the <see cref="FuseHost"/> (owned by its
/// <see cref="FuseSessionHandle"/>), so several mounts can live in one process.
/// </para>
/// <para>
/// Paths arrive as raw bytes. The store keeps names as UTF-8 (chibi's format), so a name
/// that is not valid UTF-8 can neither exist nor be created: it is refused with EINVAL
/// rather than decoded lossily into a different name.
/// </para>
/// </summary>
internal static unsafe class FuseCallbacks
{
    [ThreadStatic]
    private static List<DirEntry>? t_entries;

    internal static VfsOps Table() => new()
    {
        GetAttr = &GetAttr,
        ReadDir = &ReadDir,
        Open = &Open,
        Create = &Create,
        Read = &Read,
        Write = &Write,
        Flush = &Flush,
        Release = &Release,
        Fsync = &Fsync,
        Truncate = &Truncate,
        Unlink = &Unlink,
        Mkdir = &Mkdir,
        Rmdir = &Rmdir,
        Rename = &Rename,
        Symlink = &Symlink,
        ReadLink = &ReadLink,
        Chmod = &Chmod,
        Utimens = &Utimens,
        StatFs = &StatFs,
    };

    // ---- helpers --------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FuseHost Host(void* state) => (FuseHost)GCHandle.FromIntPtr((nint)state).Target!;

    /// <summary>IFileSystem's positive errno as the native side's negative one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Neg(int errno) => errno > 0 ? -errno : -Errno.EIO;

    private static int Fail(void* state, string op, Exception e)
    {
        try
        {
            Host(state).Log($"fuse {op}: {e.GetType().Name}: {e.Message}");
        }
        catch
        {
            // Logging must not become the exception that escapes.
        }
        return -Errno.EIO;
    }

    /// <summary>Decodes a NUL-terminated UTF-8 path; false when the bytes are not UTF-8.</summary>
    /// <summary>The firewall shared by operations on one path: decode it, call, map the errno.</summary>
    private static int OnPath(void* state, byte* pathPtr, string op, Func<IFileSystem, string, int> call)
    {
        try
        {
            if (!TryPath(pathPtr, out string path))
                return -Errno.EINVAL;
            int r = call(Host(state).FileSystem, path);
            return r == 0 ? 0 : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, op, e);
        }
    }

    /// <summary>The firewall shared by operations on one open handle.</summary>
    private static int OnHandle(void* state, ulong fh, string op, Func<IFileSystem, ulong, int> call)
    {
        try
        {
            int r = call(Host(state).FileSystem, fh);
            return r == 0 ? 0 : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, op, e);
        }
    }

    private static bool TryPath(byte* p, out string path)
    {
        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(p);
        if (!Utf8.IsValid(bytes))
        {
            path = "";
            return false;
        }
        path = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static uint NativeKind(FileKind kind) => kind switch
    {
        FileKind.Directory => NativeMethods.KindDir,
        FileKind.Symlink => NativeMethods.KindSymlink,
        _ => NativeMethods.KindReg,
    };

    /// <summary>VFS_O_* (vfsfuse.h) to <see cref="OpenFlags"/>; null for access mode 3.</summary>
    internal static OpenFlags? MapOpenFlags(uint flags)
    {
        OpenFlags r;
        switch (flags & NativeMethods.OAccMode)
        {
            case 0: r = OpenFlags.ReadOnly; break;
            case 1: r = OpenFlags.Write; break;
            case 2: r = OpenFlags.ReadWrite; break;
            default: return null;
        }
        if ((flags & NativeMethods.OAppend) != 0) r |= OpenFlags.Append;
        if ((flags & NativeMethods.OTrunc) != 0) r |= OpenFlags.Truncate;
        if ((flags & NativeMethods.OCreat) != 0) r |= OpenFlags.Create;
        if ((flags & NativeMethods.OExcl) != 0) r |= OpenFlags.Exclusive;
        return r;
    }

    internal static RenameFlags MapRenameFlags(uint flags)
    {
        var r = RenameFlags.None;
        if ((flags & NativeMethods.RenameNoReplace) != 0) r |= RenameFlags.NoReplace;
        if ((flags & NativeMethods.RenameExchange) != 0) r |= RenameFlags.Exchange;
        return r;
    }

    private static void SetOpenResult(in OpenResult result, ulong* fh, int* directIo, int* keepCache)
    {
        *fh = result.Handle;
        *directIo = result.DirectIo ? 1 : 0;
        *keepCache = result.KeepCache ? 1 : 0;
    }

    // ---- operations: one per vfs_ops entry ----------------------------------------------

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetAttr(void* state, byte* pathPtr, ulong fh, int hasFh, VfsAttr* attr)
    {
        try
        {
            // path is NULL only for an open file that was unlinked: the handle identifies it.
            string path = "";
            if (pathPtr != null && !TryPath(pathPtr, out path))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.GetAttr(path, hasFh != 0 ? fh : null, out FileAttr a);
            if (r != 0)
                return Neg(r);
            attr->Kind = NativeKind(a.Kind);
            attr->Perm = a.Permissions & 0xFFF;
            attr->Size = a.Size;
            attr->AtimeNs = a.AccessNs;
            attr->MtimeNs = a.ModifyNs;
            attr->CtimeNs = a.ChangeNs;
            attr->Nlink = a.Links;
            // uid/gid: left as C filled them (the mounting user).
            return 0;
        }
        catch (Exception e)
        {
            return Fail(state, "getattr", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadDir(void* state, byte* pathPtr, void* fillCtx)
    {
        try
        {
            if (!TryPath(pathPtr, out string path))
                return -Errno.EINVAL;
            var entries = t_entries ??= [];
            entries.Clear();
            int r = Host(state).FileSystem.ReadDir(path, entries);
            if (r != 0)
                return Neg(r);
            Span<byte> name = stackalloc byte[1024]; // NAME_MAX is 255 bytes
            foreach (var e in entries)
            {
                if (e.Name.Length == 0 || e.Name.Contains('/') || e.Name.Contains('\0')
                    || !Encoding.UTF8.TryGetBytes(e.Name, name[..^1], out int n))
                {
                    Host(state).Log($"fuse readdir {path}: skipped an impossible name '{e.Name}'");
                    continue;
                }
                name[n] = 0;
                fixed (byte* p = name)
                {
                    if (NativeMethods.vfs_fill_dir(fillCtx, p, NativeKind(e.Kind)) != 0)
                        break;
                }
            }
            entries.Clear();
            return 0;
        }
        catch (Exception e)
        {
            return Fail(state, "readdir", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Open(void* state, byte* pathPtr, uint flags, uint uid, uint gid, int pid,
        ulong* fh, int* directIo, int* keepCache) =>
        OpenOrCreate(state, pathPtr, null, flags, new Caller(uid, gid, pid), fh, directIo, keepCache);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Create(void* state, byte* pathPtr, uint mode, uint flags, uint uid, uint gid, int pid,
        ulong* fh, int* directIo, int* keepCache) =>
        OpenOrCreate(state, pathPtr, mode, flags, new Caller(uid, gid, pid), fh, directIo, keepCache);

    /// <summary>open (mode null) and create share everything but the view's call.</summary>
    private static int OpenOrCreate(void* state, byte* pathPtr, uint? mode, uint flags, Caller caller,
        ulong* fh, int* directIo, int* keepCache)
    {
        try
        {
            if (!TryPath(pathPtr, out string path))
                return -Errno.EINVAL;
            if (MapOpenFlags(flags) is not { } f)
                return -Errno.EINVAL;
            var fs = Host(state).FileSystem;
            int r = mode is { } m
                ? fs.Create(path, m, f, caller, out OpenResult result)
                : fs.Open(path, f, caller, out result);
            if (r != 0)
                return Neg(r);
            SetOpenResult(result, fh, directIo, keepCache);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(state, mode is null ? "open" : "create", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Read(void* state, ulong fh, byte* buf, uint size, long off)
    {
        try
        {
            // The kernel's buffer, read into directly: no copy on the hot path.
            int r = Host(state).FileSystem.Read(fh, new Span<byte>(buf, (int)size), off, out int n);
            return r == 0 ? n : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, "read", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Write(void* state, ulong fh, byte* buf, uint size, long off)
    {
        try
        {
            int r = Host(state).FileSystem.Write(fh, new ReadOnlySpan<byte>(buf, (int)size), off, out int n);
            return r == 0 ? n : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, "write", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Flush(void* state, ulong fh) =>
        OnHandle(state, fh, "flush", static (fs, h) => fs.Flush(h));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Release(void* state, ulong fh) =>
        OnHandle(state, fh, "release", static (fs, h) => fs.Release(h));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fsync(void* state, ulong fh, int datasync) =>
        OnHandle(state, fh, "fsync", (fs, h) => fs.Fsync(h, datasync != 0));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Truncate(void* state, byte* pathPtr, long size, ulong fh, int hasFh)
    {
        try
        {
            string path = "";
            if (pathPtr != null && !TryPath(pathPtr, out path))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.Truncate(path, hasFh != 0 ? fh : null, size);
            return r == 0 ? 0 : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, "truncate", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Unlink(void* state, byte* pathPtr) =>
        OnPath(state, pathPtr, "unlink", static (fs, path) => fs.Unlink(path));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Mkdir(void* state, byte* pathPtr, uint mode, uint uid, uint gid, int pid) =>
        OnPath(state, pathPtr, "mkdir", (fs, path) => fs.Mkdir(path, mode, new Caller(uid, gid, pid)));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rmdir(void* state, byte* pathPtr) =>
        OnPath(state, pathPtr, "rmdir", static (fs, path) => fs.Rmdir(path));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rename(void* state, byte* fromPtr, byte* toPtr, uint flags)
    {
        try
        {
            if (!TryPath(fromPtr, out string from) || !TryPath(toPtr, out string to))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.Rename(from, to, MapRenameFlags(flags));
            return r == 0 ? 0 : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, "rename", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Symlink(void* state, byte* targetPtr, byte* linkPtr)
    {
        try
        {
            if (!TryPath(targetPtr, out string target) || !TryPath(linkPtr, out string link))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.Symlink(target, link);
            return r == 0 ? 0 : Neg(r);
        }
        catch (Exception e)
        {
            return Fail(state, "symlink", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadLink(void* state, byte* pathPtr, byte* buf, uint size)
    {
        try
        {
            if (!TryPath(pathPtr, out string path))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.ReadLink(path, out string target);
            if (r != 0)
                return Neg(r);
            // readlink(2) truncates silently; C guarantees size >= 1 and re-terminates.
            var dest = new Span<byte>(buf, (int)Math.Min(size, int.MaxValue));
            byte[] bytes = Encoding.UTF8.GetBytes(target);
            int n = Math.Min(bytes.Length, dest.Length - 1);
            bytes.AsSpan(0, n).CopyTo(dest);
            dest[n] = 0;
            return 0;
        }
        catch (Exception e)
        {
            return Fail(state, "readlink", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Chmod(void* state, byte* pathPtr, uint mode) =>
        OnPath(state, pathPtr, "chmod", (fs, path) => fs.Chmod(path, mode));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Utimens(void* state, byte* pathPtr, long atimeNs, long mtimeNs) =>
        OnPath(state, pathPtr, "utimens", (fs, path) => fs.SetTimes(path,
            atimeNs == NativeMethods.TimeOmit ? null : atimeNs, mtimeNs == NativeMethods.TimeOmit ? null : mtimeNs));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int StatFs(void* state, byte* pathPtr, VfsStatFs* st)
    {
        try
        {
            if (!TryPath(pathPtr, out string path))
                return -Errno.EINVAL;
            int r = Host(state).FileSystem.StatFs(path, out FsStats s);
            if (r != 0)
                return Neg(r);
            st->Bsize = s.BlockSize;
            st->Frsize = s.BlockSize;
            st->Blocks = s.Blocks;
            st->Bfree = s.BlocksFree;
            st->Bavail = s.BlocksAvailable;
            st->Files = s.Files;
            st->Ffree = s.FilesFree;
            st->Namemax = s.NameMax;
            return 0;
        }
        catch (Exception e)
        {
            return Fail(state, "statfs", e);
        }
    }
}

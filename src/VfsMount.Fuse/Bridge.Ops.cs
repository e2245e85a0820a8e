using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>The operations: one small function per vfs_ops entry.</summary>
internal static unsafe partial class Bridge
{
    // ---- names ----------------------------------------------------------------------------

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Lookup(void* state, VfsReq* req, ulong parent, byte* namePtr, VfsEntry* entry) =>
        Serve(state, "lookup", host => Make(host, parent, namePtr, entry, static (_, _) => 0));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Forget(void* state, ulong ino, ulong count)
    {
        try
        {
            Host(state).Nodes.Forget(ino, count);
        }
        catch (Exception e)
        {
            Host(state).Log($"fuse forget: {e.GetType().Name}: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Mkdir(void* state, VfsReq* req, ulong parent, byte* namePtr, uint mode, VfsEntry* entry) =>
        Serve(state, "mkdir", host => Make(host, parent, namePtr, entry, (fs, path) => fs.Mkdir(path, Masked(mode, req), CallerOf(req))));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Symlink(void* state, VfsReq* req, byte* targetPtr, ulong parent, byte* namePtr, VfsEntry* entry) =>
        Serve(state, "symlink", host => TryName(targetPtr, out string target)
            ? Make(host, parent, namePtr, entry, (fs, path) => fs.Symlink(target, path, CallerOf(req)))
            : -Errno.EINVAL);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Mknod(void* state, VfsReq* req, ulong parent, byte* namePtr, uint kind, uint perm, uint rdev, VfsEntry* entry) =>
        Serve(state, "mknod", host => ViewKind(kind) is { } k
            ? Make(host, parent, namePtr, entry, (fs, path) => fs.Mknod(path, k, Masked(perm, req), rdev, CallerOf(req)))
            : -Errno.EINVAL);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Link(void* state, VfsReq* req, ulong ino, ulong newParent, byte* namePtr, VfsEntry* entry) =>
        Serve(state, "link", host =>
        {
            // The file the kernel checked (its cached node), not whatever its name leads to now.
            if (host.Nodes.Get(ino) is not { } node) return -Errno.EIO;
            int r = CurrentPath(host, node, out string existing);
            return r != 0 ? Neg(r) : Make(host, newParent, namePtr, entry, (fs, path) => fs.Link(existing, path));
        });

    /// <summary>lookup, mkdir and symlink (passthrough_hp's shape): make the name, then reply with its node.</summary>
    private static int Make(FuseHost host, ulong parent, byte* namePtr, VfsEntry* entry, Func<IFileSystem, string, int> make)
    {
        int r = ChildPath(host, parent, namePtr, out var dir, out string name, out string path);
        if (r == 0) r = make(host.FileSystem, path);
        return r != 0 ? Neg(r) : EntryOf(host, dir, name, path, null, entry);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Unlink(void* state, VfsReq* req, ulong parent, byte* namePtr) =>
        Serve(state, "unlink", host => Remove(host, parent, namePtr, static (fs, path) => fs.Unlink(path)));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rmdir(void* state, VfsReq* req, ulong parent, byte* namePtr) =>
        Serve(state, "rmdir", host => Remove(host, parent, namePtr, (fs, path) => fs.Rmdir(path, CallerOf(req))));

    /// <summary>unlink and rmdir: on success the node behind the name has no path any more.</summary>
    private static int Remove(FuseHost host, ulong parent, byte* namePtr, Func<IFileSystem, string, int> remove)
    {
        int r = ChildPath(host, parent, namePtr, out _, out string name, out string path);
        if (r == 0) r = remove(host.FileSystem, path);
        if (r != 0) return Neg(r);
        host.Nodes.Removed(parent, name);
        return 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rename(void* state, VfsReq* req, ulong parent, byte* namePtr, ulong newParent, byte* newNamePtr, uint flags) =>
        Serve(state, "rename", host =>
        {
            int r = ChildPath(host, parent, namePtr, out var fromDir, out string fromName, out string from);
            if (r != 0) return Neg(r);
            r = ChildPath(host, newParent, newNamePtr, out var toDir, out string toName, out string to);
            if (r != 0) return Neg(r);
            var f = MapRenameFlags(flags);
            r = host.FileSystem.Rename(from, to, f);
            if (r != 0) return Neg(r);
            host.Nodes.Renamed(fromDir, fromName, toDir, toName, (f & RenameFlags.Exchange) != 0);
            // Renamed onto a document, a file shows the size of the copy a writer stages there
            // (StagedAttributes): its cached attributes are the old name's. Attributes only: no lock.
            if (host.Nodes.ByName(toDir.Id, toName) is { } moved) host.Notifier.InvalAttributes(moved.Id);
            return 0;
        });

    // ---- attributes -----------------------------------------------------------------------

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetAttr(void* state, VfsReq* req, ulong ino, ulong fh, int hasFh, VfsAttr* attr) =>
        Serve(state, "getattr", host =>
        {
            if (host.Nodes.Get(ino) is not { } node) return -Errno.EIO;
            int r = AttrOf(host, node, hasFh != 0 ? fh : null, out var a);
            if (r != 0) return Neg(r);
            FillAttr(node, a, attr, host.Nodes);
            // A handle's own answer (a reader's file, a writer's staged copy) is not what stat of
            // the node shows everyone (a document's staged size): never cached.
            if (hasFh != 0) attr->AttrTimeoutNs = 0;
            return 0;
        });

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetAttr(void* state, VfsReq* req, ulong ino, ulong fh, int hasFh, uint valid,
        uint mode, uint uid, uint gid, long size, long atimeNs, long mtimeNs, VfsAttr* attr) =>
        Serve(state, "setattr", host =>
        {
            if (host.Nodes.Get(ino) is not { } node) return -Errno.EIO;
            ulong? handle = hasFh != 0 ? fh : null;
            // An open file whose name is gone is reached through its handle alone (""). By name,
            // only the file the kernel checked the caller's rights on: a name that leads elsewhere
            // now is ESTALE (chmod, chown, truncate and utimensat look again).
            string path = host.Nodes.PathOf(node) ?? "";
            int r = handle is null && node.Id != NodeTable.RootId ? CurrentPath(host, node, out path) : 0;
            if (r != 0) return Neg(r);
            var fs = host.FileSystem;
            if ((valid & NativeMethods.SetSize) != 0)
                r = path.Length == 0 && handle is null ? Errno.ENOENT : fs.Truncate(path, handle, size);
            if (r == 0 && (valid & NativeMethods.SetMode) != 0)
                r = path.Length == 0 ? Errno.ENOENT : fs.Chmod(path, mode);
            if (r == 0 && (valid & (NativeMethods.SetUid | NativeMethods.SetGid)) != 0)
                r = path.Length == 0 ? Errno.ENOENT : fs.Chown(path,
                    (valid & NativeMethods.SetUid) != 0 ? uid : null,
                    (valid & NativeMethods.SetGid) != 0 ? gid : null);
            if (r == 0 && (valid & (NativeMethods.SetAtime | NativeMethods.SetMtime)) != 0)
                r = path.Length == 0 ? Errno.ENOENT : fs.SetTimes(path,
                    (valid & NativeMethods.SetAtime) != 0 ? atimeNs : null,
                    (valid & NativeMethods.SetMtime) != 0 ? mtimeNs : null);
            if (r == 0 && (r = AttrOf(host, node, handle, out var a)) == 0) FillAttr(node, a, attr, host.Nodes);
            return r == 0 ? 0 : Neg(r);
        });

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadLink(void* state, VfsReq* req, ulong ino, byte* buf, uint size) =>
        Serve(state, "readlink", host =>
        {
            int r = PathOf(host, ino, out _, out string path);
            if (r == 0) r = host.FileSystem.ReadLink(path, out string target) is var e && e == 0 ? CopyLink(target, buf, size) : e;
            return r == 0 ? 0 : Neg(r);
        });

    /// <summary>readlink(2) truncates silently; C guarantees size >= 1 and re-terminates.</summary>
    private static int CopyLink(string target, byte* buf, uint size)
    {
        var dest = new Span<byte>(buf, (int)Math.Min(size, int.MaxValue));
        byte[] bytes = Encoding.UTF8.GetBytes(target);
        int n = Math.Min(bytes.Length, dest.Length - 1);
        bytes.AsSpan(0, n).CopyTo(dest);
        dest[n] = 0;
        return 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int StatFs(void* state, ulong ino, VfsStatFs* st) =>
        Serve(state, "statfs", host =>
        {
            int r = host.FileSystem.StatFs("/", out FsStats s);
            if (r != 0) return Neg(r);
            st->Bsize = s.BlockSize;
            st->Frsize = s.BlockSize;
            st->Blocks = s.Blocks;
            st->Bfree = s.BlocksFree;
            st->Bavail = s.BlocksAvailable;
            st->Files = s.Files;
            st->Ffree = s.FilesFree;
            st->Namemax = s.NameMax;
            return 0;
        });

    // ---- files ----------------------------------------------------------------------------

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Open(void* state, VfsReq* req, ulong ino, uint flags, VfsOpen* open) =>
        Serve(state, "open", host =>
        {
            if (MapOpenFlags(flags) is not { } f) return -Errno.EINVAL;
            if (host.Nodes.Get(ino) is not { } node) return -Errno.EIO;
            // A name the kernel still caches may lead elsewhere now: ESTALE makes it look again
            // (and an open with O_CREAT then creates instead of failing).
            int r = CurrentPath(host, node, out string path);
            if (r != 0) return Neg(r);
            r = host.FileSystem.Open(path, f, CallerOf(req), out var result);
            if (r != 0) return Neg(r);
            Opened(host, node, result, f);
            SetOpen(result, open);
            return 0;
        });

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Create(void* state, VfsReq* req, ulong parent, byte* namePtr, uint mode, uint flags,
        VfsEntry* entry, VfsOpen* open) =>
        Serve(state, "create", host =>
        {
            if (MapOpenFlags(flags) is not { } f) return -Errno.EINVAL;
            int r = ChildPath(host, parent, namePtr, out var dir, out string name, out string path);
            if (r != 0) return Neg(r);
            r = host.FileSystem.Create(path, Masked(mode, req), f, CallerOf(req), out var result);
            if (r != 0) return Neg(r);
            r = EntryOf(host, dir, name, path, result.Handle, entry);
            if (r != 0)
            {
                host.FileSystem.Release(result.Handle);
                return r;
            }
            Opened(host, host.Nodes.Get(entry->Ino)!, result, f);
            SetOpen(result, open);
            return 0;
        });

    /// <summary>Records the handle on its node; a direct-io writer is a staged copy (a document).</summary>
    private static void Opened(FuseHost host, Node node, in OpenResult result, OpenFlags flags) =>
        host.Nodes.Opened(node, result.Handle, result.DirectIo && (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Read(void* state, ulong fh, byte* buf, uint size, long off)
    {
        try
        {
            // The native buffer, read into directly: no copy on the hot path.
            int r = Host(state).FileSystem.Read(fh, new Span<byte>(buf, (int)size), off, out int n);
            return r == 0 ? n : Neg(r);
        }
        catch (Exception e)
        {
            return Failed(state, "read", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Write(void* state, VfsReq* req, ulong fh, byte* buf, uint size, long off)
    {
        try
        {
            var host = Host(state);
            int r = host.FileSystem.Write(fh, new ReadOnlySpan<byte>(buf, (int)size), off, out int n);
            if (r != 0) return Neg(r);
            // An append moved the log's end: its size is exact before write(2) returns. Attributes
            // only (no page locks), so safe while the kernel holds this inode for the write.
            if (host.Nodes.NodeOf(fh) is { IsLog: true } log)
            {
                host.Notifier.InvalAttributes(log.Id);
                if (log.Name == PathMap.TranscriptName) DropPartitionListings(host, log);
            }
            return n;
        }
        catch (Exception e)
        {
            return Failed(state, "write", e);
        }
    }

    /// <summary>
    /// An append may have rotated the transcript: a new partition in transcript/ and
    /// transcript/partitions/. Their listings, if the kernel caches them, go before write(2)
    /// returns (page locks of directories only: never waited on across a request).
    /// </summary>
    private const string PartitionsDirName = "partitions";   // STORE-FORMAT: transcript/partitions/

    private static void DropPartitionListings(FuseHost host, Node log)
    {
        if (log.Parent is not { } context || host.Nodes.ByName(context.Id, PathMap.TranscriptDirName) is not { } dir) return;
        host.Notifier.DropListing(dir);
        if (host.Nodes.ByName(dir.Id, PartitionsDirName) is { } partitions) host.Notifier.DropListing(partitions);
    }

    /// <summary>The firewall of the hot paths (read, write).</summary>
    private static int Failed(void* state, string op, Exception e)
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

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Flush(void* state, ulong fh) =>
        Serve(state, "flush", host => host.FileSystem.Flush(fh) is var r && r == 0 ? 0 : Neg(r));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Release(void* state, ulong fh) =>
        Serve(state, "release", host =>
        {
            host.Nodes.Closed(fh);
            return host.FileSystem.Release(fh) is var r && r == 0 ? 0 : Neg(r);
        });

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fsync(void* state, ulong fh, int datasync) =>
        Serve(state, "fsync", host => host.FileSystem.Fsync(fh, datasync != 0) is var r && r == 0 ? 0 : Neg(r));

    // ---- directories ----------------------------------------------------------------------

    /// <summary>
    /// Only on kernels without FUSE_CAP_NO_OPENDIR_SUPPORT: a directory's listing lives on its
    /// node (see <see cref="Listing"/>), so the open only checks that it still has a path.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OpenDir(void* state, VfsReq* req, ulong ino, VfsOpen* open) =>
        Serve(state, "opendir", host =>
        {
            int r = PathOf(host, ino, out _, out _);
            if (r != 0) return Neg(r);
            open->Fh = 0;
            return 0;
        });

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReleaseDir(void* state, ulong fh) => 0;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadDir(void* state, VfsReq* req, ulong ino, ulong fh, long off, int plus, void* dirCtx) =>
        Serve(state, "readdir", host =>
        {
            if (host.Nodes.Get(ino) is not { } dir) return -Errno.EIO;
            string? dirPath = host.Nodes.PathOf(dir);
            if (dirPath is null) return -Errno.ENOENT;
            var listing = dir.Listing;
            if (off == 0 || listing is null)
            {
                listing = new Listing();
                int r = listing.Refill(host.FileSystem, dirPath);
                if (r != 0) return Neg(r);
                dir.Listing = listing;
            }
            var entries = listing.Entries;
            Span<byte> name = stackalloc byte[1024];   // NAME_MAX is 255 bytes
            for (long i = off; i < entries.Count + 2; i++)
            {
                VfsEntry e = default;
                string entryName;
                if (i < 2)
                {
                    // "." and "..": never counted as lookups (the kernel ignores them in readdirplus).
                    entryName = i == 0 ? "." : "..";
                    e.Attr.Ino = dir.Id;
                    e.Attr.Kind = NativeMethods.KindDir;
                }
                else
                {
                    var d = entries[(int)(i - 2)];
                    entryName = d.Name;
                    string path = Child(dirPath, d.Name);
                    if (plus != 0 && host.FileSystem.GetAttr(path, null, out var a) == 0)
                    {
                        FillEntry(host, dir, d.Name, a, &e);
                    }
                    else
                    {
                        // Plain readdir, or a name gone since the listing: name and type only.
                        e.Attr.Ino = host.Nodes.ByName(dir.Id, d.Name)?.Id ?? Listing.PlaceholderIno(path);
                        e.Attr.Kind = NativeKind(d.Kind);
                    }
                }
                if (!Encoding.UTF8.TryGetBytes(entryName, name[..^1], out int n))
                {
                    if (e.Ino != 0) host.Nodes.Forget(e.Ino, 1);   // not sent: not counted
                    continue;
                }
                name[n] = 0;
                int full;
                fixed (byte* p = name)
                    full = NativeMethods.vfs_add_dirent(dirCtx, p, i + 1, &e);
                if (full != 0)
                {
                    if (e.Ino != 0) host.Nodes.Forget(e.Ino, 1);   // not sent: not counted
                    break;
                }
            }
            return 0;
        });
}

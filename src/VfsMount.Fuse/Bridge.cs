using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// The callbacks libvfsfuse.so calls on libfuse's worker threads, concurrently: the only code
/// that translates between kernel requests (node ids, names) and the view (paths), and the
/// one place where cache timeouts are chosen.
/// <para>
/// Every body is an exception firewall: an exception escaping into native code kills the
/// process, so each one is caught, logged in one line, and answered with EIO. An unknown
/// node id is an INTERNAL ERROR (logged by <see cref="NodeTable"/>), answered with EIO.
/// </para>
/// <para>
/// Names arrive as raw bytes. The store keeps names as UTF-8 (chibi's format), so a name
/// that is not valid UTF-8 can neither exist nor be created: it is refused with EINVAL
/// rather than decoded lossily into a different name.
/// </para>
/// </summary>
internal static unsafe partial class Bridge
{
    /// <summary>
    /// SPEC §2.6: names and attributes may be cached for 1 s (changes made by other programs
    /// show at once through the store watcher, at the latest when this runs out); everything
    /// the mount changes itself is invalidated before its reply — a log's attributes after
    /// every append (see <see cref="Write"/>).
    /// </summary>
    private const long EntryTimeoutNs = 1_000_000_000;
    private const long AttrTimeoutNs = 1_000_000_000;

    /// <summary>Node ids are never reused within a mount, so one generation serves them all.</summary>
    private const ulong Generation = 1;

    internal static VfsOps Table() => new()
    {
        Lookup = &Lookup,
        Forget = &Forget,
        GetAttr = &GetAttr,
        SetAttr = &SetAttr,
        ReadLink = &ReadLink,
        Mkdir = &Mkdir,
        Unlink = &Unlink,
        Rmdir = &Rmdir,
        Symlink = &Symlink,
        Rename = &Rename,
        Open = &Open,
        Create = &Create,
        Read = &Read,
        Write = &Write,
        Flush = &Flush,
        Release = &Release,
        Fsync = &Fsync,
        OpenDir = &OpenDir,
        ReadDir = &ReadDir,
        ReleaseDir = &ReleaseDir,
        StatFs = &StatFs,
        Mknod = &Mknod,
        Link = &Link,
    };

    // ---- helpers --------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FuseHost Host(void* state) => (FuseHost)GCHandle.FromIntPtr((nint)state).Target!;

    /// <summary>The view's positive errno as the native side's negative one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Neg(int errno) => errno > 0 ? -errno : -Errno.EIO;

    /// <summary>
    /// The firewall every operation runs in: the view call, then (before the reply) the kernel
    /// notifications for what it changed.
    /// </summary>
    private static int Serve(void* state, string op, Func<FuseHost, int> body)
    {
        FuseHost? host = null;
        try
        {
            host = Host(state);
            host.Notifier.BeginRequest(holdsNoLock: op is "flush" or "release");
            return body(host);
        }
        catch (Exception e)
        {
            try
            {
                (host ?? Host(state)).Log($"fuse {op}: {e.GetType().Name}: {e.Message}");
            }
            catch
            {
                // Logging must not become the exception that escapes.
            }
            return -Errno.EIO;
        }
        finally
        {
            try
            {
                host?.Notifier.EndRequest();
            }
            catch
            {
                // A failed notification only leaves a cache to its timeout.
            }
        }
    }

    private static bool TryName(byte* p, out string name)
    {
        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(p);
        if (!Utf8.IsValid(bytes))
        {
            name = "";
            return false;
        }
        name = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static string Child(string dir, string name) => dir == "/" ? "/" + name : dir + "/" + name;

    /// <summary>The path of (parent, name), or an errno: the parent unknown, gone, or the name not UTF-8.</summary>
    private static int ChildPath(FuseHost host, ulong parent, byte* namePtr, out Node dir, out string name, out string path)
    {
        path = name = "";
        dir = null!;
        if (host.Nodes.Get(parent) is not { } d) return Errno.EIO;
        dir = d;
        if (!TryName(namePtr, out name)) return Errno.EINVAL;
        if (host.Nodes.PathOf(d) is not { } p) return Errno.ENOENT;
        path = Child(p, name);
        return 0;
    }

    private static uint NativeKind(FileKind kind) => kind switch
    {
        FileKind.Directory => NativeMethods.KindDir,
        FileKind.Symlink => NativeMethods.KindSymlink,
        FileKind.Fifo => NativeMethods.KindFifo,
        FileKind.Socket => NativeMethods.KindSocket,
        FileKind.CharDevice => NativeMethods.KindChar,
        FileKind.BlockDevice => NativeMethods.KindBlock,
        _ => NativeMethods.KindReg,
    };

    private static FileKind? ViewKind(uint kind) => kind switch
    {
        NativeMethods.KindReg => FileKind.Regular,
        NativeMethods.KindFifo => FileKind.Fifo,
        NativeMethods.KindSocket => FileKind.Socket,
        NativeMethods.KindChar => FileKind.CharDevice,
        NativeMethods.KindBlock => FileKind.BlockDevice,
        _ => null,
    };

    private static void FillAttr(Node node, in FileAttr a, VfsAttr* attr, NodeTable nodes)
    {
        ulong id = node.Id;
        attr->Ino = id;
        attr->Kind = NativeKind(a.Kind);
        attr->Perm = a.Permissions & 0xFFF;
        attr->Size = a.Size;
        attr->AtimeNs = a.AccessNs;
        attr->MtimeNs = a.ModifyNs;
        attr->CtimeNs = a.ChangeNs;
        attr->Nlink = a.Links == 0 && a.Identity.IsVirtual ? 1 : a.Links;   // 0 only for a real file unlinked while open
        attr->Uid = a.Uid;
        attr->Gid = a.Gid;
        attr->Rdev = a.Rdev;
        // A staged writer's handle sees other attributes than everyone else, and a staged copy's
        // size shown by name (which may be another node's writer) is no reader's: cache none.
        attr->AttrTimeoutNs = a.Staged || nodes.HasStaged(node) ? 0 : AttrTimeoutNs;
    }

    /// <summary>Binds what the view found at (dir, name) to a node, counted for this reply.</summary>
    private static void FillEntry(FuseHost host, Node dir, string name, in FileAttr a, VfsEntry* entry)
    {
        var node = host.Nodes.Bind(dir, name, a);
        entry->Ino = node.Id;
        entry->Generation = Generation;
        entry->EntryTimeoutNs = EntryTimeoutNs;
        FillAttr(node, a, &entry->Attr, host.Nodes);
    }

    /// <summary>Looks up the name at path (just made, or asked for) and fills the reply with its node.</summary>
    private static int EntryOf(FuseHost host, Node dir, string name, string path, ulong? handle, VfsEntry* entry)
    {
        int r = host.FileSystem.GetAttr(path, handle, out var a);
        if (r != 0) return Neg(r);
        FillEntry(host, dir, name, a, entry);
        return 0;
    }

    /// <summary>
    /// The attributes of a node the kernel holds. A request that names a handle (reads, lseek)
    /// is answered from it — a staged writer's copy included (SPEC §2.2); one without (stat,
    /// and fstat too: the kernel sends no handle for it) from the store. A node whose name now
    /// leads to another file (replaced by a commit or by another program) or to nothing is
    /// stale: while it is open a handle answers for it; otherwise ESTALE makes the kernel look
    /// the name up again.
    /// </summary>
    private static int AttrOf(FuseHost host, Node node, ulong? handle, out FileAttr a)
    {
        var fs = host.FileSystem;
        string? path = host.Nodes.PathOf(node);
        a = default;
        int r = path is null ? Errno.ENOENT : fs.GetAttr(path, handle, out a);
        if (path is not null && (node.Id == NodeTable.RootId || (r == 0 && IsSameFile(node, a)))) return r;
        if (handle is { } fh) return fs.GetAttr("", fh, out a);
        // fstat arrives without a handle: one of the node's answers, if it was still open after
        // answering (a release racing this getattr leaves an empty answer: ask another).
        while (host.Nodes.AnyHandle(node) is { } any)
        {
            int e = fs.GetAttr("", any, out a);
            if (host.Nodes.NodeOf(any) == node) return e;
        }
        return r == 0 || r == Errno.ENOENT ? Errno.ESTALE : r;
    }

    /// <summary>Whether the view's answer for the node's name is still the node's file.</summary>
    private static bool IsSameFile(Node node, in FileAttr a) => a.Identity.IsVirtual
        ? node.Key.Name is not null && a.Kind == node.Kind   // a virtual file is its name
        : node.Key == NodeKey.Of(a, 0, "");

    /// <summary>
    /// The node's path while its name still leads to its file; else ESTALE (look again). Also
    /// for a log: its attributes are where a planted transcript/ symlink is refused (ELOOP).
    /// </summary>
    private static int CurrentPath(FuseHost host, Node node, out string path)
    {
        path = host.Nodes.PathOf(node) ?? "";
        if (path.Length == 0) return Errno.ESTALE;
        int r = host.FileSystem.GetAttr(path, null, out var a);
        if (node.Id == NodeTable.RootId || (r == 0 && IsSameFile(node, a))) return r;
        return r == 0 || r == Errno.ENOENT ? Errno.ESTALE : r;
    }

    /// <summary>The path of a node that must still have one (open, setattr, readlink …).</summary>
    private static int PathOf(FuseHost host, ulong ino, out Node node, out string path)
    {
        path = "";
        node = null!;
        if (host.Nodes.Get(ino) is not { } n) return Errno.EIO;
        node = n;
        if (host.Nodes.PathOf(n) is not { } p) return Errno.ENOENT;
        path = p;
        return 0;
    }

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

    private static void SetOpen(in OpenResult result, VfsOpen* open)
    {
        open->Fh = result.Handle;
        open->DirectIo = result.DirectIo ? 1 : 0;
        open->KeepCache = result.KeepCache ? 1 : 0;
        open->NoFlush = result.NoFlush ? 1 : 0;
    }

    private static Caller CallerOf(VfsReq* req) => new(req->Uid, req->Gid, req->Pid);

    /// <summary>DONT_MASK is negotiated: the caller's umask is applied here, not by the kernel.</summary>
    private static uint Masked(uint mode, VfsReq* req) => mode & ~req->Umask & 0xFFF;
}

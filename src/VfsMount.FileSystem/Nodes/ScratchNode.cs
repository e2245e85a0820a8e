using VfsMount.FileSystem.Handles;
using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>
/// Any other name in a context, and every name below a scratch directory: an ordinary file,
/// directory, symlink, FIFO, socket or device, as the native filesystem has it (SPEC §2).
/// </summary>
internal sealed class ScratchNode(ViewServices view, string path, string context, string storePath)
    : VfsNode(view, path, context, storePath), IReadDir, IOpen, ITruncate, IUnlink, IMkdir, IRmdir, IMakeEntry, IReadLink, ISetAttr
{
    /// <summary>In a context that exists, through real directories only (the daemon never follows a symlink out of the store).</summary>
    public override int Reachable() => base.Reachable() is var e and not 0 ? e : PathOk(View.Store.ContextDir(Context!));

    public override int GetAttr(out FileAttr attr) => View.Attrs.Stat(StorePath!, out attr);

    public int ReadDir(List<DirEntry> entries) => ListIfDirectory(Place, entries);

    public int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened)
    {
        opened = default;
        int errno = create ? Create(flags, mode, caller, out var file)
            : PosixFile.Open(StorePath!, OpenFlagsOf(flags) | PosixFile.NoFollow, 0, out file);
        if (errno != 0) return errno;
        // A plain file: its close has nothing to flush (Handle.Flush's 0), one request less per close.
        opened = new Opened(new FileHandle(file!, (flags & OpenFlags.Append) != 0, readOnly: false), DirectIo: false, KeepCache: false, NoFlush: true);
        return 0;
    }

    /// <summary>
    /// open(O_CREAT) of a scratch name, which the kernel sends for a name it found missing: only
    /// a file this call made is handed to the caller (SPEC §2.5). One that appeared meanwhile is
    /// ESTALE — the kernel looks again and opens it with its own permission check, which a root
    /// daemon opening it here would skip.
    /// </summary>
    private int Create(OpenFlags flags, uint mode, Caller caller, out PosixFile? file)
    {
        int open = OpenFlagsOf(flags & ~(OpenFlags.Create | OpenFlags.Exclusive)) | PosixFile.NoFollow;
        int errno = PosixFile.Open(StorePath!, open | PosixFile.Create | PosixFile.Exclusive, mode, out file);
        if (errno == Errno.EEXIST) return (flags & OpenFlags.Exclusive) != 0 ? errno : Errno.ESTALE;
        if (errno != 0) return errno;
        errno = Ownership.GiveTo(file!, StorePath!, caller.Uid, caller.Gid, mode);
        if (errno == 0) return 0;
        file!.Dispose();
        file = null;
        PathOps.Unlink(StorePath!);
        return errno;
    }

    private static int OpenFlagsOf(OpenFlags flags)
    {
        int f = (flags & OpenFlags.ReadWrite) != 0 ? PosixFile.ReadWrite
            : (flags & OpenFlags.Write) != 0 ? PosixFile.WriteOnly : PosixFile.ReadOnly;
        if ((flags & OpenFlags.Append) != 0) f |= PosixFile.Append;
        if ((flags & OpenFlags.Truncate) != 0) f |= PosixFile.Truncate;
        if ((flags & OpenFlags.Create) != 0) f |= PosixFile.Create;
        if ((flags & OpenFlags.Exclusive) != 0) f |= PosixFile.Exclusive;
        return f;
    }

    public int Truncate(long size)
    {
        int errno = PosixFile.Open(StorePath!, PosixFile.WriteOnly | PosixFile.NoFollow, 0, out var file);
        if (errno != 0) return errno;
        using (file) return file!.SetLength(size);
    }

    /// <summary>As natively: durable at the next directory fsync.</summary>
    public int Unlink() => Reachable() is var errno and not 0 ? errno : PathOps.Unlink(StorePath!);

    public int Mkdir(uint mode, Caller caller) =>
        Reachable() is var errno and not 0 ? errno : Made(StorePath!, PathOps.Mkdir(StorePath!, mode), caller, mode, Ownership.Made.Directory);

    public int Rmdir(Caller caller) => PathOps.Rmdir(StorePath!);

    public int Symlink(string target, Caller caller) =>
        Reachable() is var errno and not 0 ? errno : Made(StorePath!, PathOps.Symlink(target, StorePath!), caller, 0x1FF, Ownership.Made.Symlink);

    public int Mknod(FileKind kind, uint mode, uint rdev, Caller caller)
    {
        if (Reachable() is var errno and not 0) return errno;
        if (kind == FileKind.Regular)
        {
            // mknod(S_IFREG), as python's os.mknod: an empty file, created as open(O_CREAT|O_EXCL) would.
            errno = Create(OpenFlags.Write | OpenFlags.Exclusive, mode, caller, out var file);
            file?.Dispose();
            return errno;
        }
        if (kind is FileKind.Directory or FileKind.Symlink) return Errno.EINVAL;   // as mknod(2)
        errno = PathOps.Mknod(StorePath!, Attrs.TypeOf(kind) | (mode & 0xFFF), rdev >> 20, rdev & 0xFFFFF);
        return Made(StorePath!, errno, caller, mode, Ownership.Made.Special);
    }

    /// <summary>
    /// Hard links join scratch names of one context only: a link between a document or a log and
    /// a scratch name would let plain writes change what the mount validates.
    /// </summary>
    public int Link(VfsNode existing)
    {
        if (existing is not ScratchNode) return existing.Refuse(Errno.EPERM, "only scratch files can be hard linked");
        if (existing.Context != Context) return Errno.EXDEV;
        return Reachable() is var errno and not 0 ? errno : PathOps.Link(existing.StorePath!, StorePath!);
    }

    public int ReadLink(out string target) => PathOps.ReadLink(StorePath!, out target);

    public int SetAttr(Func<string, int> apply, int noFileYet) => apply(StorePath!);

    /// <summary>After a create (errno its result): hands it to the caller, or takes it back when that fails.</summary>
    public static int Made(string storePath, int errno, Caller caller, uint mode, Ownership.Made made)
    {
        if (errno != 0) return errno;
        errno = Ownership.GiveTo(storePath, caller.Uid, caller.Gid, mode, made);
        // Something else is at the name now (swapped in since the create): not ours to remove;
        // ESTALE makes the kernel look the name up again.
        if (errno == Errno.EAGAIN) return Errno.ESTALE;
        if (errno != 0 && made == Ownership.Made.Directory) PathOps.Rmdir(storePath);
        else if (errno != 0) PathOps.Unlink(storePath);
        return errno;
    }
}

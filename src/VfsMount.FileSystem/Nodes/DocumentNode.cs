using VfsMount.FileSystem.Handles;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>
/// A document (SPEC §2.2): read as committed; written through a private staged copy committed
/// atomically (validated for its format) on close. Each commit is a new file, so a reader keeps
/// what it opened. Every regular file under .vfs/ is one too.
/// </summary>
internal sealed class DocumentNode(ViewServices view, string path, string? context, string storePath, DocumentFormat format, bool vfs = false)
    : VfsNode(view, path, context, storePath), IOpen, ITruncate, IUnlink, IMkdir, IReadLink, ISetAttr
{
    public DocumentFormat Format { get; } = format;

    public override bool Vfs => vfs;

    public override int Reachable() => base.Reachable() is var e and not 0 ? e : Vfs ? PathOk(View.Store.VfsDir) : 0;

    /// <summary>state.json: always listed; while chibi has not written it, it reads as empty.</summary>
    private bool IsRegistry => StorePath == View.Store.StatePath;

    public override int GetAttr(out FileAttr attr)
    {
        if (FileStatus.Lstat(StorePath!, out var dst) == 0)
        {
            if (!dst.IsRegular && !dst.IsSymlink)
            {
                attr = default;
                return Planted(dst);
            }
            View.Attrs.Fill(dst, out attr);
            if (dst.IsRegular) StagedAttributes.Show(View.Commits, StorePath!, ref attr);   // fstat of a writer (SPEC §2.2)
            return 0;
        }
        // A document created but not yet committed exists for the handle that staged it.
        var staged = View.Commits.StagesOf(StorePath!).FirstOrDefault();
        if (staged is null)
        {
            attr = default;
            return IsRegistry ? Attrs.Behind(View.Store.Root, 0, out attr) : Errno.ENOENT;
        }
        // Its staged copy is the file behind it: made for its creator.
        if (FileStatus.Lstat(staged.StagePath, out var sst) != 0) return Attrs.Behind(Path.GetDirectoryName(StorePath!)!, staged.Size ?? 0, out attr);
        View.Attrs.Fill(sst, out attr);
        (attr.Size, attr.Identity) = (staged.Size ?? 0, default);
        return 0;
    }

    public int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened)
    {
        opened = default;
        bool writing = (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0;
        if (create && (flags & OpenFlags.Exclusive) != 0 && FileStatus.Lstat(StorePath!, out _) == 0) return Errno.EEXIST;
        if (!writing)
        {
            if (IsRegistry && FileStatus.Lstat(StorePath!, out _) != 0)
            {
                opened = new Opened(new EmptyHandle(), DirectIo: true, KeepCache: false);
                return 0;
            }
            int errno = PosixFile.Open(StorePath!, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var doc);
            if (errno != 0) return errno;
            // A read-only document keeps the pages of its node: each commit is a new node.
            opened = new Opened(new DocumentReader(doc!), DirectIo: false, KeepCache: true);
            return 0;
        }
        // No ENOENT for a missing document here: the kernel sends OPEN only for a name it
        // believes exists, and strips O_CREAT from it. A name it still caches — a document
        // another handle created but never committed, or one removed in the last second —
        // is opened for writing as if created (SPEC: open(O_CREAT) must not fail on it).
        var handle = Stage((flags & OpenFlags.Truncate) != 0, (flags & OpenFlags.Append) != 0, new FileOwner(caller.Uid, caller.Gid, mode));
        opened = new Opened(handle, DirectIo: true, KeepCache: false);   // the staged copy is this handle's alone: out of the shared page cache
        return 0;
    }

    /// <summary>truncate(2) by name: a staged copy of its own, committed at once.</summary>
    public int Truncate(long size)
    {
        var doc = Stage(truncate: false, append: false, creator: null);
        try
        {
            int errno = doc.Truncate(size);
            return errno != 0 ? errno : doc.Flush();
        }
        finally
        {
            doc.Release();
        }
    }

    private DocumentHandle Stage(bool truncate, bool append, FileOwner? creator) =>
        new(StorePath!, Format, truncate, append, View.Limits.MaxDocumentBytes, View.Commits, View.Changed,
            (_, e, reason, content) => Refuse(e, reason, content), creator);

    /// <summary>
    /// An unlinked document stays unlinked: a pending O_TRUNC-only handle does not bring it back —
    /// nor does the release of a handle that created it and never wrote (vim's 4913 probe:
    /// create, close, unlink, and the release comes after).
    /// </summary>
    public int Unlink()
    {
        if (Reachable() is var unreachable and not 0) return unreachable;
        lock (View.Commits.LockOf(StorePath!))
        {
            int errno = PathOps.Unlink(StorePath!);
            if (errno == 0) errno = PosixFile.SyncDirectory(Path.GetDirectoryName(StorePath!)!);
            if (errno == Errno.ENOENT && View.Commits.StagesOf(StorePath!).Length > 0) errno = 0;
            if (errno == 0) View.Commits.Committed(StorePath!);
            return errno;
        }
    }

    /// <summary>.vfs/: directories are ordinary; elsewhere a document's name is taken.</summary>
    public int Mkdir(uint mode, Caller caller)
    {
        if (!Vfs) return Errno.EEXIST;
        if (Reachable() is var errno and not 0) return errno;
        return ScratchNode.Made(StorePath!, PathOps.Mkdir(StorePath!, mode), caller, mode, Ownership.Made.Directory);
    }

    public int ReadLink(out string target) => PathOps.ReadLink(StorePath!, out target);

    /// <summary>
    /// chmod and utimens of a document reach the committed file and every staged copy of it, so
    /// a commit keeps them (`cp -p`, `install -m`, vim's fchmod); a document that exists only as
    /// a staged copy (created, not yet committed) takes them on that copy. ENOENT when neither exists.
    /// </summary>
    public int SetAttr(Func<string, int> apply, int noFileYet)
    {
        bool committed = FileStatus.Lstat(StorePath!, out var st) == 0;
        if (committed && st.IsSymlink) return Errno.EOPNOTSUPP;
        int errno = committed ? apply(StorePath!) : Errno.ENOENT;
        foreach (var staged in View.Commits.StagesOf(StorePath!))
        {
            int e;
            lock (staged) e = apply(staged.StagePath);   // a write holding it may restage to a new path meanwhile
            if (!committed && errno != 0) errno = e;
        }
        return errno;
    }
}

using VfsMount.FileSystem.Nodes;
using VfsMount.Store;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

public sealed partial class ContextFileSystem
{
    public int Unlink(string path) => Guard(path, () =>
        Resolve(path) is IUnlink node ? node.Unlink() : Errno.EISDIR);

    public int Mkdir(string path, uint mode, Caller caller) => Guard(path, () =>
        Resolve(path) is IMkdir node ? node.Mkdir(mode, caller) : Errno.EEXIST);

    public int Rmdir(string path, Caller caller = default) => Guard(path, () =>
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        return node is IRmdir dir ? dir.Rmdir(caller) : Errno.ENOTDIR;
    });

    public int Symlink(string target, string linkPath, Caller caller) => Guard(linkPath, () =>
        Resolve(linkPath) is var node && node is IMakeEntry entry ? entry.Symlink(target, caller) : node.RefuseNewEntry());

    public int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller) => Guard(path, () =>
        Resolve(path) is var node && node is IMakeEntry entry ? entry.Mknod(kind, mode, rdev, caller) : node.RefuseNewEntry());

    public int Link(string existingPath, string newPath) => Guard(newPath, () =>
    {
        var source = Existing(existingPath, out int errno);
        if (errno != 0) return errno;
        var target = Resolve(newPath);
        if (target is DocumentNode or LogNode) return target.Refuse(Errno.EPERM, "only scratch files can be hard linked");
        return target is IMakeEntry entry ? entry.Link(source) : target.RefuseNewEntry();
    });

    public int ReadLink(string path, out string target)
    {
        target = "";
        try
        {
            var node = Existing(path, out int errno);
            if (errno != 0) return errno;
            return node is IReadLink link ? link.ReadLink(out target) : Errno.EINVAL;
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    public int Chmod(string path, uint mode) => Guard(path, () =>
        OnBackingFile(path, p => PathOps.Chmod(p, mode & 0xFFF)));   // a symlink: EOPNOTSUPP, from PathOps

    public int Chown(string path, uint? uid, uint? gid) => Guard(path, () =>
        OnBackingFile(path, p => PathOps.LChown(p, uid ?? Ownership.Unchanged, gid ?? Ownership.Unchanged)));

    public int SetTimes(string path, long? accessNs, long? modifyNs) => Guard(path, () =>
        Resolve(path) is RootNode ? 0   // the root keeps its times; `touch` on it is harmless
            : OnBackingFile(path, p => PathOps.SetTimes(p, accessNs, modifyNs), noFileYet: 0));

    /// <summary>chmod, chown and utimens reach the file behind the name (SPEC §2.5).</summary>
    private int OnBackingFile(string path, Func<string, int> apply, int noFileYet = Errno.EPERM)
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        return node is ISetAttr backed ? backed.SetAttr(apply, noFileYet) : Errno.EPERM;
    }

    public int Rename(string from, string to, RenameFlags flags) => Guard(from, () =>
    {
        var source = Existing(from, out int errno);
        if (errno != 0) return errno;
        var target = Resolve(to);
        if (target is InternalNode) return target.Refuse(Errno.EPERM, "internal names of the store cannot be renamed over");
        if (source is ContextNode || target is ContextNode)
        {
            if (source is not ContextNode) return Errno.EPERM;
            if (target is not ContextNode) return target.Refuse(Errno.EINVAL, $"\"{Path.GetFileName(to)}\" is not a valid context name");
            if ((flags & RenameFlags.Exchange) != 0) return Errno.EINVAL;
            Store.RenameContext(source.Context!, target.Context!);   // EEXIST / EBUSY from the store
            _view.RegistryChanged();
            return 0;
        }
        bool exchange = (flags & RenameFlags.Exchange) != 0;
        if (source is VfsDirectoryNode || target is VfsDirectoryNode)
        {
            // Directories of .vfs/ move within it, as natively; .vfs/ itself stays.
            if (!source.Vfs || !target.Vfs || source is VfsDirectoryNode { IsTop: true } || target is VfsDirectoryNode { IsTop: true }
                || target.Reachable() is not 0) return Errno.EPERM;
            if (exchange && (source is DocumentNode || target is DocumentNode)) return ExchangeWithDocument(source, target);   // a directory cannot become a document: EINVAL
            errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
            return errno != 0 ? errno : SyncParents(source.StorePath!, target.StorePath!);
        }
        if (source is LogNode || target is LogNode) return (source is LogNode ? source : target).Refuse(Errno.EPERM, "logs cannot be renamed or replaced");
        if (source is PartitionNode || target is PartitionNode) return source.Refuse(Errno.EROFS, "transcript/ is read-only");
        if (target is InvalidNode or RootNode) return Errno.EPERM;
        if (target.Context is not null && !Store.ContextExists(target.Context)) return Errno.ENOENT;
        if (exchange && (source is DocumentNode || target is DocumentNode)) return ExchangeWithDocument(source, target);
        if (target is DocumentNode document) return RenameOntoDocument(source, document, flags);
        errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
        if (errno != 0) return errno;
        if (source is not DocumentNode) return 0;   // scratch names: as natively, no directory fsync
        _view.Commits.Committed(source.StorePath!);   // renamed away: as unlink
        return SyncParents(source.StorePath!, target.StorePath!);
    });

    /// <summary>rename(scratch, document) is how editors save: a validated commit of the file's content.</summary>
    private int RenameOntoDocument(VfsNode source, DocumentNode target, RenameFlags flags)
    {
        if ((flags & RenameFlags.NoReplace) != 0 && FileStatus.Lstat(target.StorePath!, out _) == 0) return Errno.EEXIST;
        int errno = CheckIncoming(target, source.StorePath!);
        if (errno != 0) return errno;
        lock (_view.Commits.LockOf(target.StorePath!))
        {
            errno = PathOps.Rename(source.StorePath!, target.StorePath!, 0);
            if (errno != 0) return errno;
            _view.Commits.Committed(target.StorePath!);
            Store.Counters.Committed(target.Context);
            if (source is DocumentNode) _view.Commits.Committed(source.StorePath!);
            // The kernel replaces the target's inode too: readers of the old file keep it.
        }
        // No kernel cache to drop: the name now leads to the source's inode, whose pages are
        // its own content, and handles of the old target keep the old file.
        return SyncParents(source.StorePath!, target.StorePath!);
    }

    /// <summary>
    /// RENAME_EXCHANGE with a document (SPEC §3): each name gets the other's file, so a document
    /// name gets validated content — a commit both ways, or EINVAL with both files as they were.
    /// </summary>
    private int ExchangeWithDocument(VfsNode source, VfsNode target)
    {
        if (source is DocumentNode intoSource && CheckIncoming(intoSource, target.StorePath!) is var refusedSource and not 0) return refusedSource;
        if (target is DocumentNode intoTarget && CheckIncoming(intoTarget, source.StorePath!) is var refusedTarget and not 0) return refusedTarget;
        var documents = new[] { source, target }.OfType<DocumentNode>().ToArray();
        // Both document locks in one order (ordinal), so two exchanges never wait on each other.
        var locks = documents.Select(n => n.StorePath!).Order(StringComparer.Ordinal).Select(_view.Commits.LockOf).ToArray();
        foreach (var held in locks) held.Enter();
        try
        {
            int errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)RenameFlags.Exchange);
            if (errno != 0) return errno;
            foreach (var document in documents)
            {
                _view.Commits.Committed(document.StorePath!);
                Store.Counters.Committed(document.Context);
            }
        }
        finally
        {
            foreach (var held in locks) held.Exit();
        }
        // The kernel swaps the two names itself; each inode keeps its own pages.
        return SyncParents(source.StorePath!, target.StorePath!);
    }

    /// <summary>
    /// Whether the file at incoming may become the document's content by a rename: a regular file
    /// of one name, within the size limit, whose content the document's format accepts (refused with the reason
    /// logged otherwise), then fsync'd so the commit is durable once its directory is.
    /// </summary>
    private int CheckIncoming(DocumentNode document, string incoming)
    {
        if (FileStatus.Lstat(incoming, out var st) != 0) return Errno.ENOENT;
        if (!st.IsRegular) return document.Refuse(Errno.EINVAL, "only a regular file can become a document");
        // Writes through another hard link would change the document unvalidated (as Link refuses).
        if (st.Links > 1) return document.Refuse(Errno.EINVAL, "a file with other hard links cannot become a document");
        if (st.Size > Limits.MaxDocumentBytes)
            return document.Refuse(Errno.EFBIG, $"document over its limit of {Limits.MaxDocumentBytes} bytes");
        try
        {
            DocumentValidator.Validate(document.Format, incoming);
        }
        catch (StoreException e)
        {
            return document.Refuse(e.Errno, e.Message);
        }
        using (var file = PosixFile.OpenOrThrow(incoming, PosixFile.ReadOnly | PosixFile.NoFollow)) file.Sync();
        return 0;
    }

    private static int SyncParents(string a, string b)
    {
        int errno = PosixFile.SyncDirectory(Path.GetDirectoryName(b)!);
        if (errno == 0 && Path.GetDirectoryName(a) != Path.GetDirectoryName(b)) errno = PosixFile.SyncDirectory(Path.GetDirectoryName(a)!);
        return errno;
    }
}

using VfsMount.Store;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>
/// rename(2) between two names: the one operation whose answer depends on both kinds — contexts
/// only among contexts, logs and transcript/ never, a document only as a validated commit.
/// </summary>
internal static class Renames
{
    /// <summary>rename(2) of a reachable source onto target (RENAME_NOREPLACE, RENAME_EXCHANGE as flags).</summary>
    public static int Rename(ViewServices view, VfsNode source, VfsNode target, RenameFlags flags)
    {
        int errno;
        if (target is InternalNode) return target.Refuse(Errno.EPERM, "internal names of the store cannot be renamed over");
        if (source is ContextNode || target is ContextNode)
        {
            if (source is not ContextNode) return Errno.EPERM;
            if (target is not ContextNode) return target.Refuse(Errno.EINVAL, $"\"{Path.GetFileName(target.MountPath)}\" is not a valid context name");
            if ((flags & RenameFlags.Exchange) != 0) return Errno.EINVAL;
            view.Store.RenameContext(source.Context!, target.Context!);   // EEXIST / EBUSY from the store
            view.RegistryChanged();
            return 0;
        }
        bool exchange = (flags & RenameFlags.Exchange) != 0;
        if (source is VfsDirectoryNode || target is VfsDirectoryNode)
        {
            // Directories of .vfs/ move within it, as natively; .vfs/ itself stays.
            if (!source.Vfs || !target.Vfs || source is VfsDirectoryNode { IsTop: true } || target is VfsDirectoryNode { IsTop: true }
                || target.Reachable() is not 0) return Errno.EPERM;
            if (exchange && (source is DocumentNode || target is DocumentNode)) return ExchangeWithDocument(view, source, target);   // a directory cannot become a document: EINVAL
            errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
            return errno != 0 ? errno : SyncParents(source.StorePath!, target.StorePath!);
        }
        if (source is LogNode || target is LogNode) return (source is LogNode ? source : target).Refuse(Errno.EPERM, "logs cannot be renamed or replaced");
        if (source is PartitionNode || target is PartitionNode) return source.Refuse(Errno.EROFS, "transcript/ is read-only");
        if (target is InvalidNode or RootNode) return Errno.EPERM;
        if (target.Context is not null && !view.Store.ContextExists(target.Context)) return Errno.ENOENT;
        if (exchange && (source is DocumentNode || target is DocumentNode)) return ExchangeWithDocument(view, source, target);
        if (target is DocumentNode document) return RenameOntoDocument(view, source, document, flags);
        errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
        if (errno != 0) return errno;
        if (source is not DocumentNode) return 0;   // scratch names: as natively, no directory fsync
        view.Commits.Committed(source.StorePath!);   // renamed away: as unlink
        return SyncParents(source.StorePath!, target.StorePath!);
    }

    /// <summary>rename(scratch, document) is how editors save: a validated commit of the file's content.</summary>
    private static int RenameOntoDocument(ViewServices view, VfsNode source, DocumentNode target, RenameFlags flags)
    {
        if ((flags & RenameFlags.NoReplace) != 0 && FileStatus.Lstat(target.StorePath!, out _) == 0) return Errno.EEXIST;
        int errno = CheckIncoming(view, target, source.StorePath!);
        if (errno != 0) return errno;
        lock (view.Commits.LockOf(target.StorePath!))
        {
            errno = PathOps.Rename(source.StorePath!, target.StorePath!, 0);
            if (errno != 0) return errno;
            view.Commits.Committed(target.StorePath!);
            view.Store.Counters.Committed(target.Context);
            if (source is DocumentNode) view.Commits.Committed(source.StorePath!);
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
    private static int ExchangeWithDocument(ViewServices view, VfsNode source, VfsNode target)
    {
        if (source is DocumentNode intoSource && CheckIncoming(view, intoSource, target.StorePath!) is var refusedSource and not 0) return refusedSource;
        if (target is DocumentNode intoTarget && CheckIncoming(view, intoTarget, source.StorePath!) is var refusedTarget and not 0) return refusedTarget;
        var documents = new[] { source, target }.OfType<DocumentNode>().ToArray();
        // Both document locks in one order (ordinal), so two exchanges never wait on each other.
        var locks = documents.Select(n => n.StorePath!).Order(StringComparer.Ordinal).Select(view.Commits.LockOf).ToArray();
        foreach (var held in locks) held.Enter();
        try
        {
            int errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)RenameFlags.Exchange);
            if (errno != 0) return errno;
            foreach (var document in documents)
            {
                view.Commits.Committed(document.StorePath!);
                view.Store.Counters.Committed(document.Context);
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
    private static int CheckIncoming(ViewServices view, DocumentNode document, string incoming)
    {
        if (FileStatus.Lstat(incoming, out var st) != 0) return Errno.ENOENT;
        if (!st.IsRegular) return document.Refuse(Errno.EINVAL, "only a regular file can become a document");
        // Writes through another hard link would change the document unvalidated (as Link refuses).
        if (st.Links > 1) return document.Refuse(Errno.EINVAL, "a file with other hard links cannot become a document");
        if (st.Size > view.Limits.MaxDocumentBytes)
            return document.Refuse(Errno.EFBIG, $"document over its limit of {view.Limits.MaxDocumentBytes} bytes");
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

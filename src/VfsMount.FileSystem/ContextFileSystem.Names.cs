using VfsMount.FileSystem.Handles;
using VfsMount.Store;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

public sealed partial class ContextFileSystem
{
    public int Unlink(string path) => Guard(path, () =>
    {
        var node = _paths.Resolve(path);
        return node.Kind switch
        {
            NodeKind.Hidden => Refuse(node, path, Errno.EPERM, "internal files of the store cannot be removed"),
            NodeKind.TranscriptLog or NodeKind.InboxLog or NodeKind.TextLog => Refuse(node, path, Errno.EPERM, "logs cannot be removed"),
            NodeKind.ReadOnly => Refuse(node, path, Errno.EROFS, "transcript/ is read-only"),
            NodeKind.Root or NodeKind.Context or NodeKind.VfsDirectory => Errno.EISDIR,
            NodeKind.Invalid => Errno.ENOENT,
            _ when Reachable(node) is var errno and not 0 => errno,
            NodeKind.Document => RemoveDocument(node.StorePath!),
            _ => PathOps.Unlink(node.StorePath!),   // scratch: as natively, durable at the next directory fsync
        };
    });

    /// <summary>
    /// An unlinked document stays unlinked: a pending O_TRUNC-only handle does not bring it back —
    /// nor does the release of a handle that created it and never wrote (vim's 4913 probe:
    /// create, close, unlink, and the release comes after).
    /// </summary>
    private int RemoveDocument(string storePath)
    {
        lock (_commits.LockOf(storePath))
        {
            int errno = RemoveDurably(storePath);
            if (errno == Errno.ENOENT && _commits.StagesOf(storePath).Length > 0) errno = 0;
            if (errno == 0) _commits.Committed(storePath);
            return errno;
        }
    }

    private static int RemoveDurably(string storePath)
    {
        int errno = PathOps.Unlink(storePath);
        return errno != 0 ? errno : PosixFile.SyncDirectory(Path.GetDirectoryName(storePath)!);
    }

    public int Mkdir(string path, uint mode, Caller caller) => Guard(path, () =>
    {
        var node = _paths.Resolve(path);
        switch (node.Kind)
        {
            case NodeKind.Context:
            case NodeKind.Invalid when path.Count(c => c == '/') == 1:
                _store.CreateContext(Path.GetFileName(path), WorkingDirectoryOf(caller));   // EINVAL / ENAMETOOLONG / EEXIST from the store
                RegistryChanged();
                // The directory as mkdir(2) would make it: the requested mode (umask applied), the caller's.
                string contextDir = _store.ContextDir(Path.GetFileName(path));
                int chmodded = FileStatus.Lstat(contextDir, out var made) != 0 ? Errno.ENOENT
                    : PathOps.Chmod(contextDir, (mode & 0x3FF) | (made.Mode & 0x400));   // set-gid stays, as mkdir(2) under a set-gid contexts/ keeps it
                return chmodded != 0 ? chmodded : Ownership.GiveTreeTo(contextDir, caller.Uid, caller.Gid);
            case NodeKind.Scratch:
            case NodeKind.Document when node.Vfs:   // .vfs/: directories are ordinary
                if (Reachable(node) is var errno and not 0) return errno;
                return Made(node.StorePath!, PathOps.Mkdir(node.StorePath!, mode), caller, mode, Ownership.Made.Directory);
            case NodeKind.ReadOnly:
                return Refuse(node, path, Errno.EROFS, "transcript/ is read-only");
            case NodeKind.Hidden:
                return Refuse(node, path, Errno.EPERM, "internal names of the store cannot be created");
            default:
                return Errno.EEXIST;
        }
    });

    public int Rmdir(string path, Caller caller = default) => Guard(path, () =>
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        switch (node.Kind)
        {
            case NodeKind.Context:
                if (HasScratch(node.StorePath!)) return Refuse(node, path, Errno.ENOTEMPTY, "the context holds scratch files");
                // The kernel checked contexts/ only; the context's own files go too, as rm -r's would.
                foreach (string dir in new[] { node.StorePath!, Path.Combine(node.StorePath!, PathMap.TranscriptDirName) })
                    if (FileStatus.Lstat(dir, out var dst) == 0 && !Access.MayWrite(dst, caller.Uid, caller.Gid, caller.Pid))
                        return Refuse(node, path, Errno.EACCES, $"no write permission on {Path.GetRelativePath(_store.ContextsDir, dir)}");
                _store.RemoveContext(node.Context!);   // ENOTEMPTY when the transcript has entries beyond its anchor
                RegistryChanged();
                return 0;
            case NodeKind.Scratch:
            case NodeKind.VfsDirectory when node.StorePath != _store.VfsDir:
                return PathOps.Rmdir(node.StorePath!);
            case NodeKind.ReadOnly:
                return Refuse(node, path, Errno.EROFS, "transcript/ is read-only");
            case NodeKind.Root:
                return Errno.EBUSY;
            default:
                return Errno.ENOTDIR;
        }
    });

    /// <summary>The calling process's working directory, null when it cannot be read (gone, or another user's).</summary>
    private static string? WorkingDirectoryOf(Caller caller)
    {
        if (caller.Pid <= 0) return null;
        try
        {
            return new FileInfo($"/proc/{caller.Pid}/cwd").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Anything a user put in the context beyond chibi's own files.</summary>
    private static bool HasScratch(string contextDir) =>
        new DirectoryInfo(contextDir).EnumerateFileSystemInfos().Any(i =>
            !InternalNames.IsInternal(StorePlace.ContextTop, i.Name) && i.Name != PathMap.TranscriptDirName
            && !PathMap.IsChibiFile(i.Name));

    public int Rename(string from, string to, RenameFlags flags) => Guard(from, () =>
    {
        var source = Existing(from, out int errno);
        if (errno != 0) return errno;
        var target = _paths.Resolve(to);
        if (target.Kind is NodeKind.Hidden) return Refuse(target, to, Errno.EPERM, "internal names of the store cannot be renamed over");
        if (source.Kind == NodeKind.Context || target.Kind == NodeKind.Context)
        {
            if (source.Kind != NodeKind.Context) return Errno.EPERM;
            if (target.Kind != NodeKind.Context) return Refuse(target, to, Errno.EINVAL, $"\"{Path.GetFileName(to)}\" is not a valid context name");
            if ((flags & RenameFlags.Exchange) != 0) return Errno.EINVAL;
            _store.RenameContext(source.Context!, target.Context!);   // EEXIST / EBUSY from the store
            RegistryChanged();
            return 0;
        }
        if (source.Kind == NodeKind.VfsDirectory || target.Kind == NodeKind.VfsDirectory)
        {
            // Directories of .vfs/ move within it, as natively; .vfs/ itself stays.
            if (!source.Vfs || !target.Vfs || source.StorePath == _store.VfsDir || target.StorePath == _store.VfsDir || Reachable(target) is not 0) return Errno.EPERM;
            if ((flags & RenameFlags.Exchange) != 0 && (source.Kind == NodeKind.Document || target.Kind == NodeKind.Document))
                return ExchangeWithDocument(source, from, target, to);   // a directory cannot become a document: EINVAL
            errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
            return errno != 0 ? errno : SyncParents(source.StorePath!, target.StorePath!);
        }
        if (source.IsLog || target.IsLog) return Refuse(source.IsLog ? source : target, source.IsLog ? from : to, Errno.EPERM, "logs cannot be renamed or replaced");
        if (source.Kind == NodeKind.ReadOnly || target.Kind == NodeKind.ReadOnly) return Refuse(source, from, Errno.EROFS, "transcript/ is read-only");
        if (target.Kind is NodeKind.Invalid or NodeKind.Root) return Errno.EPERM;
        if (target.Context is not null && !_store.ContextExists(target.Context)) return Errno.ENOENT;
        bool exchange = (flags & RenameFlags.Exchange) != 0;
        if (exchange && (source.Kind == NodeKind.Document || target.Kind == NodeKind.Document)) return ExchangeWithDocument(source, from, target, to);
        if (target.Kind == NodeKind.Document)
        {
            // rename(scratch, document) is how editors save: a validated commit of the file's content.
            if ((flags & RenameFlags.NoReplace) != 0 && FileStatus.Lstat(target.StorePath!, out _) == 0) return Errno.EEXIST;
            errno = CheckIncoming(target, to, source.StorePath!);
            if (errno != 0) return errno;
            lock (_commits.LockOf(target.StorePath!))
            {
                errno = PathOps.Rename(source.StorePath!, target.StorePath!, 0);
                if (errno != 0) return errno;
                _commits.Committed(target.StorePath!);
                _store.Counters.Committed(target.Context);
                if (source.Kind == NodeKind.Document) _commits.Committed(source.StorePath!);
                // The kernel replaces the target's inode too: readers of the old file keep it.
            }
            // No kernel cache to drop: the name now leads to the source's inode, whose pages are
            // its own content, and handles of the old target keep the old file.
            return SyncParents(source.StorePath!, target.StorePath!);
        }
        errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)flags);
        if (errno != 0) return errno;
        if (source.Kind != NodeKind.Document) return 0;   // scratch names: as natively, no directory fsync
        _commits.Committed(source.StorePath!);   // renamed away: as unlink
        return SyncParents(source.StorePath!, target.StorePath!);
    });

    /// <summary>
    /// RENAME_EXCHANGE with a document (SPEC §3): each name gets the other's file, so a document
    /// name gets validated content — a commit both ways, or EINVAL with both files as they were.
    /// </summary>
    private int ExchangeWithDocument(Node source, string from, Node target, string to)
    {
        if (source.Kind == NodeKind.Document && CheckIncoming(source, from, target.StorePath!) is var intoSource and not 0) return intoSource;
        if (target.Kind == NodeKind.Document && CheckIncoming(target, to, source.StorePath!) is var intoTarget and not 0) return intoTarget;
        // Both document locks in one order (ordinal), so two exchanges never wait on each other.
        var locks = new[] { source, target }.Where(n => n.Kind == NodeKind.Document).Select(n => n.StorePath!)
            .Order(StringComparer.Ordinal).Select(_commits.LockOf).ToArray();
        foreach (var held in locks) held.Enter();
        try
        {
            int errno = PathOps.Rename(source.StorePath!, target.StorePath!, (uint)RenameFlags.Exchange);
            if (errno != 0) return errno;
            foreach (var document in new[] { source, target }.Where(n => n.Kind == NodeKind.Document))
            {
                _commits.Committed(document.StorePath!);
                _store.Counters.Committed(document.Context);
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
    private int CheckIncoming(Node document, string documentPath, string incoming)
    {
        if (FileStatus.Lstat(incoming, out var st) != 0) return Errno.ENOENT;
        if (!st.IsRegular) return Refuse(document, documentPath, Errno.EINVAL, "only a regular file can become a document");
        // Writes through another hard link would change the document unvalidated (as Link refuses).
        if (st.Links > 1) return Refuse(document, documentPath, Errno.EINVAL, "a file with other hard links cannot become a document");
        if (st.Size > Limits.MaxDocumentBytes)
            return Refuse(document, documentPath, Errno.EFBIG, $"document over its limit of {Limits.MaxDocumentBytes} bytes");
        try
        {
            DocumentValidator.Validate(document.Format, incoming);
        }
        catch (StoreException e)
        {
            return Refuse(document, documentPath, e.Errno, e.Message);
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

    public int Symlink(string target, string linkPath, Caller caller) => Guard(linkPath, () =>
    {
        var node = _paths.Resolve(linkPath);
        return node.Kind switch
        {
            NodeKind.Scratch when Reachable(node) is var errno and not 0 => errno,
            NodeKind.Scratch => Made(node.StorePath!, PathOps.Symlink(target, node.StorePath!), caller, 0x1FF, Ownership.Made.Symlink),
            _ => NotScratch(node, linkPath),
        };
    });

    public int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller) => Guard(path, () =>
    {
        var node = _paths.Resolve(path);
        if (node.Kind != NodeKind.Scratch) return NotScratch(node, path);
        if (Reachable(node) is var errno and not 0) return errno;
        if (kind == FileKind.Regular)
        {
            // mknod(S_IFREG), as python's os.mknod: an empty file, created as open(O_CREAT|O_EXCL) would.
            errno = CreateScratch(node.StorePath!, OpenFlags.Write | OpenFlags.Exclusive, mode, caller, out var file);
            file?.Dispose();
            return errno;
        }
        if (kind is FileKind.Directory or FileKind.Symlink) return Errno.EINVAL;   // as mknod(2)
        errno = PathOps.Mknod(node.StorePath!, TypeOf(kind) | (mode & 0xFFF), rdev >> 20, rdev & 0xFFFFF);
        return Made(node.StorePath!, errno, caller, mode, Ownership.Made.Special);
    });

    /// <summary>
    /// Hard links join scratch names of one context only: a link between a document or a log and
    /// a scratch name would let plain writes change what the mount validates.
    /// </summary>
    public int Link(string existingPath, string newPath) => Guard(newPath, () =>
    {
        var source = Existing(existingPath, out int errno);
        if (errno != 0) return errno;
        var target = _paths.Resolve(newPath);
        if (target.Kind == NodeKind.Document || target.IsLog) return Refuse(target, newPath, Errno.EPERM, "only scratch files can be hard linked");
        if (target.Kind != NodeKind.Scratch) return NotScratch(target, newPath);
        if (source.Kind != NodeKind.Scratch) return Refuse(source, existingPath, Errno.EPERM, "only scratch files can be hard linked");
        if (source.Context != target.Context) return Errno.EXDEV;
        return Reachable(target) is var bad and not 0 ? bad : PathOps.Link(source.StorePath!, target.StorePath!);
    });

    /// <summary>What a name that is not scratch answers to mkdir-like calls: its kind decides.</summary>
    private int NotScratch(Node node, string path) => node.Kind switch
    {
        NodeKind.ReadOnly => Refuse(node, path, Errno.EROFS, "transcript/ is read-only"),
        NodeKind.Context or NodeKind.Invalid or NodeKind.Root => Errno.EPERM,
        NodeKind.Hidden => Refuse(node, path, Errno.EPERM, "internal names of the store cannot be created"),
        _ => Errno.EEXIST,
    };

    /// <summary>After a create (errno its result): hands it to the caller, or takes it back when that fails.</summary>
    private static int Made(string storePath, int errno, Caller caller, uint mode, Ownership.Made made)
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

    public int ReadLink(string path, out string target)
    {
        target = "";
        try
        {
            var node = Existing(path, out int errno);
            if (errno != 0) return errno;
            return node.StorePath is null || node.Kind is NodeKind.Context or NodeKind.Root ? Errno.EINVAL : PathOps.ReadLink(node.StorePath, out target);
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

    /// <summary>
    /// chmod, chown and utimens reach the file behind the name (SPEC §2.5): a scratch entry or
    /// directory, a document and its staged copies (a commit keeps them), a log's file (the
    /// transcript's active partition; a rotation keeps them), a context's directory.
    /// </summary>
    /// <remarks>A log with no file yet answers <paramref name="noFileYet"/>: there is nothing to change.</remarks>
    private int OnBackingFile(string path, Func<string, int> apply, int noFileYet = Errno.EPERM)
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        switch (node.Kind)
        {
            case NodeKind.Document:
                return OnDocumentAndStages(node.StorePath!, apply);
            case NodeKind.TranscriptLog:
                return _store.Transcript(node.Context!).OwnerFile() is { } file ? apply(file) : noFileYet;
            case NodeKind.InboxLog:
            case NodeKind.TextLog:
                return FileStatus.Lstat(node.StorePath!, out _) == 0 ? apply(node.StorePath!) : noFileYet;
            case NodeKind.Scratch:
            case NodeKind.Context:
            case NodeKind.VfsDirectory:
                return apply(node.StorePath!);
            case NodeKind.ReadOnly:
                return Refuse(node, path, Errno.EROFS, "transcript/ is read-only");
            default:
                return Errno.EPERM;
        }
    }

    /// <summary>
    /// chmod and utimens of a document reach the committed file and every staged copy of it, so
    /// a commit keeps them (`cp -p`, `install -m`, vim's fchmod); a document that exists only as
    /// a staged copy (created, not yet committed) takes them on that copy. ENOENT when neither exists.
    /// </summary>
    private int OnDocumentAndStages(string storePath, Func<string, int> apply)
    {
        bool committed = FileStatus.Lstat(storePath, out var st) == 0;
        if (committed && st.IsSymlink) return Errno.EOPNOTSUPP;
        int errno = committed ? apply(storePath) : Errno.ENOENT;
        foreach (var staged in _commits.StagesOf(storePath))
        {
            int e;
            lock (staged) e = apply(staged.StagePath);   // a write holding it may restage to a new path meanwhile
            if (!committed && errno != 0) errno = e;
        }
        return errno;
    }

    public int SetTimes(string path, long? accessNs, long? modifyNs) => Guard(path, () =>
        _paths.Resolve(path).Kind == NodeKind.Root ? 0   // the root keeps its times; `touch` on it is harmless
            : OnBackingFile(path, p => PathOps.SetTimes(p, accessNs, modifyNs), noFileYet: 0));

    private int Guard(string path, Func<int> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }
}

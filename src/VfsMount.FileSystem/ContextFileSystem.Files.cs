using VfsMount.FileSystem.Handles;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

public sealed partial class ContextFileSystem
{
    public int Open(string path, OpenFlags flags, Caller caller, out OpenResult result) =>
        OpenOrCreate(path, flags, 0x1A4, caller, create: false, out result);

    public int Create(string path, uint mode, OpenFlags flags, Caller caller, out OpenResult result) =>
        OpenOrCreate(path, flags | OpenFlags.Create, mode, caller, create: true, out result);

    private int OpenOrCreate(string path, OpenFlags flags, uint mode, Caller caller, bool create, out OpenResult result)
    {
        result = default;
        try
        {
            var node = Existing(path, out int errno);
            if (node.Kind == NodeKind.Hidden && create) return Refuse(node, path, Errno.EPERM, "internal files of the store cannot be created");
            if (errno != 0) return errno;
            bool writing = (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0;
            bool exclusive = create && (flags & OpenFlags.Exclusive) != 0;
            Handle handle;
            bool directIo;
            switch (node.Kind)
            {
                case NodeKind.Root:
                case NodeKind.Context:
                case NodeKind.VfsDirectory:
                    return writing ? Errno.EISDIR : Errno.EPERM;
                case NodeKind.Invalid:
                    return create ? Refuse(node, path, Errno.EPERM, "only contexts and state.json live at the top") : Errno.ENOENT;
                case NodeKind.TranscriptLog:
                case NodeKind.InboxLog:
                case NodeKind.TextLog:
                    if (exclusive) return Errno.EEXIST;
                    if ((flags & OpenFlags.Truncate) != 0 && writing) return Refuse(node, path, Errno.EPERM, "logs cannot be truncated");
                    handle = new LogHandle(LogTargetOf(node), (flags & OpenFlags.Append) != 0, UserNames.Of(caller.Uid), _refusals, Limits.MaxLineBytes, _store.Counters);
                    // transcript.jsonl's bytes never change once written: a reader may use the page
                    // cache (the kernel drops it when the size changes). Writers and the other logs
                    // (the inbox shrinks in place) go past it.
                    directIo = writing || node.Kind != NodeKind.TranscriptLog;
                    break;
                case NodeKind.Document:
                    if (exclusive && FileStatus.Lstat(node.StorePath!, out _) == 0) return Errno.EEXIST;
                    // state.json is always listed: while chibi has not written it, it reads as empty.
                    bool missingState = node.StorePath == _store.StatePath && FileStatus.Lstat(node.StorePath!, out _) != 0;
                    if (!writing)
                    {
                        if (missingState)
                        {
                            handle = new EmptyHandle();
                            directIo = true;
                            break;
                        }
                        errno = PosixFile.Open(node.StorePath!, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var doc);
                        if (errno != 0) return errno;
                        handle = new DocumentReader(doc!);
                        directIo = false;
                        break;
                    }
                    // No ENOENT for a missing document here: the kernel sends OPEN only for a name it
                    // believes exists, and strips O_CREAT from it. A name it still caches — a document
                    // another handle created but never committed, or one removed in the last second —
                    // is opened for writing as if created (SPEC: open(O_CREAT) must not fail on it).
                    handle = new DocumentHandle(node.StorePath!, node.Format, (flags & OpenFlags.Truncate) != 0,
                        (flags & OpenFlags.Append) != 0, Limits.MaxDocumentBytes, _commits, Changed,
                        (_, e, reason, content) => _refusals.Refuse(node.Label, node.NameIn(path), e, reason, content),
                        new FileOwner(caller.Uid, caller.Gid, mode));
                    directIo = true;   // the staged copy is this handle's alone: keep it out of the shared page cache
                    break;
                case NodeKind.ReadOnly:
                    if (writing || create) return Refuse(node, path, Errno.EROFS, "transcript/ is read-only");
                    errno = PosixFile.Open(node.StorePath!, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var ro);
                    if (errno != 0) return errno;
                    handle = new FileHandle(ro!, append: false, readOnly: true);
                    directIo = false;
                    break;
                default:
                    errno = create ? CreateScratch(node.StorePath!, flags, mode, caller, out var file)
                        : PosixFile.Open(node.StorePath!, ScratchFlags(flags) | PosixFile.NoFollow, 0, out file);
                    if (errno != 0) return errno;
                    handle = new FileHandle(file!, (flags & OpenFlags.Append) != 0, readOnly: false);
                    directIo = false;
                    break;
            }
            ulong id = (ulong)Interlocked.Increment(ref _nextHandle);
            _handles[id] = handle;
            // A read-only document keeps the pages of its node (each commit is a new node), and so
            // does a transcript reader (its bytes never change).
            result = new OpenResult(id, directIo, KeepCache: handle is DocumentReader || !directIo && node.Kind == NodeKind.TranscriptLog,
                NoFlush: handle is FileHandle);   // scratch and transcript/ files: Handle.Flush's 0, one request less per close
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    private LogTarget LogTargetOf(Node node) => node.Kind switch
    {
        NodeKind.TranscriptLog => new TranscriptTarget(_store, node.Context!),
        NodeKind.InboxLog => new InboxTarget(_store, node.Context!),
        _ => new PlainLogTarget(_store, node.StorePath!, node.Context!, PathMap.TextLogName),
    };

    /// <summary>
    /// open(O_CREAT) of a scratch name, which the kernel sends for a name it found missing: only
    /// a file this call made is handed to the caller (SPEC §2.5). One that appeared meanwhile is
    /// ESTALE — the kernel looks again and opens it with its own permission check, which a root
    /// daemon opening it here would skip.
    /// </summary>
    private static int CreateScratch(string storePath, OpenFlags flags, uint mode, Caller caller, out PosixFile? file)
    {
        int open = ScratchFlags(flags & ~(OpenFlags.Create | OpenFlags.Exclusive)) | PosixFile.NoFollow;
        int errno = PosixFile.Open(storePath, open | PosixFile.Create | PosixFile.Exclusive, mode, out file);
        if (errno == Errno.EEXIST) return (flags & OpenFlags.Exclusive) != 0 ? errno : Errno.ESTALE;
        if (errno != 0) return errno;
        errno = Ownership.GiveTo(file!, storePath, caller.Uid, caller.Gid, mode);
        if (errno == 0) return 0;
        file!.Dispose();
        file = null;
        PathOps.Unlink(storePath);
        return errno;
    }

    private static int ScratchFlags(OpenFlags flags)
    {
        int f = (flags & OpenFlags.ReadWrite) != 0 ? PosixFile.ReadWrite
            : (flags & OpenFlags.Write) != 0 ? PosixFile.WriteOnly : PosixFile.ReadOnly;
        if ((flags & OpenFlags.Append) != 0) f |= PosixFile.Append;
        if ((flags & OpenFlags.Truncate) != 0) f |= PosixFile.Truncate;
        if ((flags & OpenFlags.Create) != 0) f |= PosixFile.Create;
        if ((flags & OpenFlags.Exclusive) != 0) f |= PosixFile.Exclusive;
        return f;
    }

    public int Read(ulong handle, Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = 0;
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            return h.Read(buffer, offset, out bytesRead);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }

    public int Write(ulong handle, ReadOnlySpan<byte> data, long offset, out int bytesWritten)
    {
        bytesWritten = 0;
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) return h.Write(data, offset, out bytesWritten);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }

    public int Flush(ulong handle) => OnHandle(handle, h => h.Flush());

    public int Fsync(ulong handle, bool dataOnly) => OnHandle(handle, h => h.Fsync());

    /// <remarks>
    /// The handle stays known until its release is done: a document it created and commits only
    /// now exists meanwhile for lookups, so an unlink racing the release (vim's probe files:
    /// create, close, unlink) finds it and wins, instead of the commit bringing it back.
    /// </remarks>
    public int Release(ulong handle)
    {
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) h.Release();
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
        finally
        {
            _handles.TryRemove(handle, out _);
        }
    }

    public int Truncate(string path, ulong? handle, long size)
    {
        if (handle is { } id && _handles.TryGetValue(id, out _)) return OnHandle(id, h => h.Truncate(size));
        try
        {
            var node = Existing(path, out int errno);
            if (errno != 0) return errno;
            switch (node.Kind)
            {
                case NodeKind.TranscriptLog or NodeKind.InboxLog or NodeKind.TextLog:
                    return Refuse(node, path, Errno.EPERM, "logs cannot be truncated");
                case NodeKind.ReadOnly:
                    return Refuse(node, path, Errno.EROFS, "transcript/ is read-only");
                case NodeKind.Document:
                {
                    // truncate(2) by name: a staged copy of its own, committed at once.
                    var doc = new DocumentHandle(node.StorePath!, node.Format, truncate: false, append: false, Limits.MaxDocumentBytes, _commits, Changed,
                        (_, e, reason, content) => _refusals.Refuse(node.Label, node.NameIn(path), e, reason, content));
                    try
                    {
                        errno = doc.Truncate(size);
                        return errno != 0 ? errno : doc.Flush();
                    }
                    finally
                    {
                        doc.Release();
                    }
                }
                case NodeKind.Scratch:
                    errno = PosixFile.Open(node.StorePath!, PosixFile.WriteOnly | PosixFile.NoFollow, 0, out var file);
                    if (errno != 0) return errno;
                    using (file) return file!.SetLength(size);
                default:
                    return Errno.EISDIR;
            }
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    private int OnHandle(ulong handle, Func<Handle, int> operation)
    {
        if (!_handles.TryGetValue(handle, out var h)) return Errno.EBADF;
        try
        {
            lock (h) return operation(h);
        }
        catch (Exception e)
        {
            return Fail(e, $"handle {handle}");
        }
    }

    private int Refuse(Node node, string path, int errno, string reason) =>
        _refusals.Refuse(node.Label, node.NameIn(path), errno, reason);
}

using VfsMount.Store;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// A document opened for writing (SPEC §2.2): a private staged copy on disk, beside the
/// document, that this handle reads and writes; committed atomically on flush and fsync when
/// it changed since this handle's last commit. Other readers see only committed content.
/// </summary>
internal sealed class DocumentHandle : Handle
{
    private readonly string _target;
    private readonly DocumentFormat _format;
    private string _stagePath;
    private PosixFile _stage;
    /// <summary>
    /// The last commit renamed the staged file into place (no copy, one fsync fewer): this
    /// handle still reads it, and its next change first stages a private copy again.
    /// </summary>
    private bool _stageIsCommitted;
    private readonly bool _append;
    private readonly long _maxBytes;
    private readonly Action<string> _committed;
    private readonly Func<string, int, string, byte[]?, int> _refuse;
    private bool _dirty;
    /// <summary>
    /// The errno of a write or truncate of the staged copy that failed (ENOSPC …): the copy may
    /// hold part of what the program meant to write, so this handle never commits it; every
    /// later flush and fsync answer this errno and the document keeps its content whole.
    /// </summary>
    private int _stageFailed;
    /// <summary>
    /// Changed only by O_TRUNC at open, not yet by a write: `cmd > doc` makes the shell dup2 and
    /// close the descriptor before anything is written, and committing that empty copy would
    /// show readers an empty document in between. Such a handle commits at its last close.
    /// </summary>
    private bool _onlyTruncatedAtOpen;
    private readonly DocumentCommits _commits;
    /// <summary>Follows a staged copy written from empty, in order (SPEC §2.2 "Refuse early"); null once writes go elsewhere.</summary>
    private PrefixValidator? _early;
    /// <summary>When this handle was opened: the logical moment of an O_TRUNC-only handle's commit.</summary>
    private readonly long _openedAt;
    private long _lastChange;
    /// <summary>The logical moment of the last flush or fsync: a change it did not commit (refused) is no longer shown to stat.</summary>
    private long _lastFlush;

    public DocumentHandle(string target, DocumentFormat format, bool truncate, bool append, long maxBytes,
        DocumentCommits commits, Action<string> committed, Func<string, int, string, byte[]?, int> refuse, FileOwner? creator = null)
    {
        _commits = commits;
        _openedAt = _lastChange = commits.Now();
        _target = target;
        _format = format;
        _append = append;
        _maxBytes = maxBytes;
        _committed = committed;
        _refuse = refuse;
        bool exists = FileStatus.Lstat(target, out var st) == 0 && st.IsRegular;
        _stage = AtomicFile.CreateHeldTemp(target, out _stagePath);   // held while this handle lives: recovery leaves it alone
        try
        {
            if (exists && !truncate)
            {
                using var current = PosixFile.OpenOrThrow(target, PosixFile.ReadOnly | PosixFile.NoFollow);
                AtomicFile.CopyInto(current, _stage, _stagePath);
            }
            else if (_stage.TakeOwner(exists ? new FileOwner(st.Uid, st.Gid, st.Permissions) : FileOwner.For(target, creator)) is var errno and not 0)
            {
                throw new PosixException(errno, _stagePath);
            }
        }
        catch
        {
            _stage.Dispose();
            PathOps.Unlink(_stagePath);
            throw;
        }
        _dirty = !exists || (truncate && st.Size > 0);
        _onlyTruncatedAtOpen = _dirty;
        _early = !exists || truncate ? PrefixValidator.ForEmpty(format) : FollowCommitted(format, st.Size);
        commits.Staged(this);   // last: a constructor that throws leaves nothing registered
    }

    /// <summary>A small document opened to extend it: its committed content is followed first, so `>>` is refused early too.</summary>
    private PrefixValidator? FollowCommitted(DocumentFormat format, long size)
    {
        if (size > 1 << 20) return null;
        var content = new byte[size];
        return _stage.ReadAt(content, 0) == size ? PrefixValidator.ForContent(format, content) : null;
    }

    public string Target => _target;

    /// <summary>The staged copy: chmod and utimens while the handle is open land here too, so the commit keeps them.</summary>
    public string StagePath => _stagePath;

    // Reads, sizes and status take the handle's lock, which writes hold (ContextFileSystem.Write):
    // a write may restage, disposing the descriptor a concurrent pread would otherwise use after
    // its number was reused. Lock order: this handle, then its document's commit lock.
    public override long? Size
    {
        get { lock (this) return _stage.Length() is var n and >= 0 ? n : 0; }   // 0 once released
    }

    public override int Status(out FileStatus status)
    {
        lock (this) return _stage.Status(out status);
    }

    /// <summary>The logical moment of this handle's last change to its copy (its open, until it writes).</summary>
    public long LastChange => Volatile.Read(ref _lastChange);

    /// <summary>
    /// The staged copy's status while it holds a change this handle has not committed; false
    /// once committed (the copy is then the document itself) or released. For stat by name.
    /// </summary>
    public bool TryStaged(out FileStatus status)
    {
        status = default;
        lock (this) return _dirty && _lastChange > _lastFlush && _stage.Status(out status) == 0;
    }

    public override int Read(Span<byte> buffer, long offset, out int bytesRead)
    {
        lock (this)
        {
            long n = _stage.ReadAt(buffer, offset);
            bytesRead = n < 0 ? 0 : (int)n;
            return n < 0 ? (int)-n : 0;
        }
    }

    public override int Write(ReadOnlySpan<byte> data, long offset, out int written)
    {
        written = 0;
        if (Restage() is var restaged and not 0) return restaged;
        if (_append) offset = _stage.Length();
        if (offset + data.Length > _maxBytes)
            return _refuse(_target, Errno.EFBIG, $"document over its limit of {_maxBytes} bytes", null);
        long before = _stage.Length();
        if (RefuseEarly(data, offset, before) is var refused and not 0) return refused;
        int errno = _stage.WriteAllAt(data, offset);
        if (errno != 0)
        {
            if (before >= 0) _stage.SetLength(before);   // give back what the partial write took
            _early = null;
            return StageFailed(errno);
        }
        _dirty = true;
        _onlyTruncatedAtOpen = false;
        Volatile.Write(ref _lastChange, _commits.Now());
        written = data.Length;
        return 0;
    }

    /// <summary>
    /// EINVAL, with the staged copy untouched, when a write that extends it in order leaves a
    /// content no later write can make valid. A program that never checks close (a shell
    /// redirect) sees the error here. The handle then holds nothing it should commit — not the
    /// part written before the refused write — until it writes again.
    /// </summary>
    private int RefuseEarly(ReadOnlySpan<byte> data, long offset, long length)
    {
        if (_early is null) return 0;
        if (offset != length || _early.Length != length || !_early.IsFollowing)
        {
            _early = null;   // not in order: the check at close decides
            return 0;
        }
        if (_early.TryAppend(data, out var reason)) return 0;
        byte[]? content = ReadForQuarantine() is { } staged && staged.Length + (long)data.Length <= Quarantine.DefaultMaxBytes ? [.. staged, .. data] : null;
        (_dirty, _onlyTruncatedAtOpen) = (false, false);
        return _refuse(_target, Errno.EINVAL, $"refused at write: {reason}", content);
    }

    public override int Truncate(long size)
    {
        if (size > _maxBytes) return _refuse(_target, Errno.EFBIG, $"document over its limit of {_maxBytes} bytes", null);
        if (Restage() is var restaged and not 0) return restaged;
        long before = _stage.Length();
        int errno = _stage.SetLength(size);
        if (errno != 0) return StageFailed(errno);
        if (size == 0) _early = PrefixValidator.ForEmpty(_format);
        else if (size != before) _early = null;
        (_dirty, _onlyTruncatedAtOpen) = (true, false);
        Volatile.Write(ref _lastChange, _commits.Now());
        return 0;
    }

    /// <summary>After a commit by rename, a private copy of what this handle committed to change.</summary>
    private int Restage()
    {
        if (!_stageIsCommitted) return 0;
        var copy = AtomicFile.CreateHeldTemp(_target, out string fresh);
        try
        {
            AtomicFile.CopyInto(_stage, copy, fresh);   // the file this handle committed, wherever it is now
        }
        catch (IOException e)
        {
            copy.Dispose();
            PathOps.Unlink(fresh);
            return StageFailed(StoreException.ErrnoOf(e));
        }
        _stage.Dispose();
        HoldPoint.Hit("document-restage", _target);
        _stage = copy;
        _stagePath = fresh;
        _stageIsCommitted = false;
        return 0;
    }

    private int StageFailed(int errno)
    {
        _stageFailed = errno;
        return _refuse(_target, errno, "staging a write failed; this handle will not commit", null);
    }

    public override int Flush()
    {
        _lastFlush = _commits.Now();
        return _onlyTruncatedAtOpen ? 0 : Commit();
    }

    public override int Fsync()
    {
        _lastFlush = _commits.Now();
        return Commit();
    }

    /// <summary>Validate, then temp + fsync + rename + directory fsync; 0 only once durable.</summary>
    private int Commit()
    {
        if (_stageFailed != 0) return _refuse(_target, _stageFailed, "not committed: an earlier write to this handle failed", null);
        if (!_dirty) return 0;
        lock (_commits.LockOf(_target)) return CommitLocked();
    }

    private int CommitLocked()
    {
        int errno = _stage.Sync();
        if (errno != 0) return errno;
        try
        {
            // Written in order from empty (a save), the content was validated as it streamed in.
            if (_early?.Completes(_stage.Length()) != true) DocumentValidator.Validate(_format, _stagePath);
        }
        catch (StoreException e)
        {
            return _refuse(_target, e.Errno, e.Message, ReadForQuarantine());
        }
        try
        {
            CrashPoint.Hit("document-before-rename");
            AtomicFile.Commit(_stagePath, _target);   // the staged copy is fsync'd: rename it into place
        }
        catch (StoreException e)
        {
            return _refuse(_target, e.Errno, e.Message, null);
        }
        catch (IOException e)
        {
            return _refuse(_target, StoreException.ErrnoOf(e), e.Message, null);
        }
        _dirty = false;
        _stageIsCommitted = true;
        _commits.Committed(_target);
        _committed(_target);
        return 0;
    }

    private byte[]? ReadForQuarantine()
    {
        long size = _stage.Length();
        if (size is < 0 or > Quarantine.DefaultMaxBytes) return null;
        var bytes = new byte[size];
        _stage.ReadAt(bytes, 0);
        return bytes;
    }

    public override void Release()
    {
        // RELEASE reaches us after close(2) has returned, so a later open, write and commit of
        // the same document (`: > doc; echo x > doc`) may already be done: the truncation
        // happened at open, before it, and must not override it.
        if (_onlyTruncatedAtOpen && _dirty && _stageFailed == 0)
        {
            lock (_commits.LockOf(_target))
                if (!_commits.ChangedSince(_target, _openedAt)) CommitLocked();   // errors are logged by the refusal; release cannot report them
        }
        _stage.Dispose();
        if (!_stageIsCommitted) PathOps.Unlink(_stagePath);
        _commits.Unstaged(this);
    }
}

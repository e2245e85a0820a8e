using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// A log appended to under chibi's flock on a lock file beside it (transcript/active.jsonl under
/// .transcript.lock, inbox.jsonl under .inbox.lock), with the lock file and the log kept open
/// between appends, so that an append costs flock, two statx, write, fsync and unlock — no open.
/// </summary>
/// <remarks>
/// Others rename and replace these names while the descriptors are held: chibi or another
/// daemon rotates active.jsonl into a partition, a program replaces or removes the lock file
/// (chibi would then lock a new one), a context is renamed or removed (its files go with it).
/// So after taking the lock each name is looked up and compared by inode with what is held
/// (<see cref="NameProbe"/>): a lock file no longer at its name is let go and the name opened
/// again as the first append does, which is ENOENT when the context is gone; a log no longer at
/// its name is opened again at it. Not thread-safe: its owner serialises the appends.
/// </remarks>
internal sealed class HeldLog(string lockPath, string logPath) : IDisposable
{
    private readonly NameProbe _lockName = new(lockPath), _logName = new(logPath);
    private PosixFile? _lock, _log;
    private FileStatus _lockStatus, _logStatus;

    public string LogPath => logPath;

    /// <summary>
    /// Takes the lock on the lock file held, if its name still leads to it: true, and the
    /// caller must <see cref="Unlock"/>. False when nothing is held or the name leads elsewhere
    /// now (everything held is let go): the caller then takes <see cref="LockByName"/>.
    /// </summary>
    public bool TryLockHeld()
    {
        if (_lock is null) return false;
        if (_lock.Lock(exclusive: true) == 0)
        {
            if (_lockName.LeadsTo(_lockStatus, out _)) return true;
            _lock.Unlock();
        }
        LetGo();
        return false;
    }

    /// <summary>
    /// As chibi: opens the lock file by name (creating it, never its directory), locks it and
    /// checks that the name still leads to it — ENOENT when its context was moved or removed
    /// meanwhile (<see cref="FileLock.Acquire"/>). Throws; holds nothing then.
    /// </summary>
    public void LockByName()
    {
        LetGo();
        var file = PosixFile.OpenOrCreate(lockPath, PosixFile.ReadWrite | PosixFile.NoFollow, () => FileOwner.For(lockPath));
        int errno = file.Lock(exclusive: true);
        if (errno == 0) errno = file.Status(out _lockStatus);
        if (errno == 0 && !_lockName.LeadsTo(_lockStatus, out _)) errno = Libc.ENOENT;
        if (errno != 0)
        {
            file.Dispose();
            throw new PosixException(errno, $"flock {lockPath}");
        }
        _lock = file;
    }

    /// <summary>Releases the lock; the lock file stays open for the next append.</summary>
    public void Unlock() => _lock?.Unlock();

    /// <summary>
    /// Under the lock: the log's descriptor if it exists, with its size now; null when the name
    /// is absent. A log rotated or replaced since the last append is opened again at its name
    /// (a planted symlink or FIFO there refused as <see cref="PosixFile.Open"/> refuses it).
    /// </summary>
    public PosixFile? Log(out FileStatus status)
    {
        int errno = _logName.Stat(out status);
        if (errno == 0 && _log is not null && status.IsSameFile(_logStatus)) return _log;
        CloseLog();
        if (errno == Libc.ENOENT) return null;
        errno = PosixFile.Open(logPath, PosixFile.ReadWrite | PosixFile.Append | PosixFile.NoFollow, 0, out var file);
        if (errno == Libc.ENOENT) return null;
        if (errno != 0) throw new PosixException(errno, logPath);
        return Hold(file!, out status);
    }

    /// <summary>Under the lock, when <see cref="Log"/> found none: makes the log, giving it ownerIfNew (SPEC §2.5).</summary>
    public PosixFile CreateLog(Func<FileOwner> ownerIfNew, out FileStatus status) =>
        Hold(PosixFile.OpenOrCreate(logPath, PosixFile.ReadWrite | PosixFile.Append | PosixFile.NoFollow, ownerIfNew), out status);

    private PosixFile Hold(PosixFile file, out FileStatus status)
    {
        int errno = file.Status(out status);
        if (errno != 0)
        {
            file.Dispose();
            throw new PosixException(errno, logPath);
        }
        (_log, _logStatus) = (file, status);
        return file;
    }

    private void CloseLog()
    {
        _log?.Dispose();
        _log = null;
    }

    /// <summary>Closes what is held (closing the lock file releases a lock still taken).</summary>
    private void LetGo()
    {
        CloseLog();
        _lock?.Dispose();
        _lock = null;
    }

    public void Dispose() => LetGo();
}

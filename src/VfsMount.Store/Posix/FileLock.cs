namespace VfsMount.Store.Posix;

/// <summary>
/// chibi's lock: flock(2) LOCK_EX on a lock file opened read-write, created if missing, never
/// truncated or deleted. fcntl locks would not exclude chibi's flock on Linux.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly PosixFile _file;

    private FileLock(PosixFile file) => _file = file;

    /// <summary>
    /// Blocks until the lock is held. A lock file planted as a symlink is not followed (ELOOP):
    /// opening it O_CREAT would create or lock a file outside the store (SPEC §3). O_CREAT
    /// creates only the file, never its directory: a removed context stays removed (ENOENT).
    /// </summary>
    /// <remarks>
    /// chibi never deletes a lock file, but a context's rmdir or rename moves it away with its
    /// directory, under this lock. A waiter that gets the lock afterwards holds the lock of a
    /// context that is gone from this path, so it is ENOENT: whatever it meant to do there
    /// must not happen in a directory someone else now owns, or be recreated (issue 10).
    /// </remarks>
    public static FileLock Acquire(string lockPath)
    {
        var file = Open(lockPath);
        int errno = file.Lock(exclusive: true);
        if (errno == 0) errno = StillAt(file, lockPath);
        if (errno != 0)
        {
            file.Dispose();
            throw new PosixException(errno, $"flock {lockPath}");
        }
        return new FileLock(file);
    }

    /// <summary>0 when the locked file is still the one at lockPath, else ENOENT (moved away or removed meanwhile).</summary>
    private static int StillAt(PosixFile file, string lockPath)
    {
        int errno = file.Status(out var held);
        if (errno != 0) return errno;
        return FileStatus.Lstat(lockPath, out var now) == 0 && now.Inode == held.Inode ? 0 : 2;
    }

    /// <summary>Null when someone else holds it.</summary>
    public static FileLock? TryAcquire(string lockPath)
    {
        var file = Open(lockPath);
        if (file.Lock(exclusive: true, nonBlocking: true) == 0 && StillAt(file, lockPath) == 0) return new FileLock(file);
        file.Dispose();
        return null;
    }

    /// <summary>A lock file chibi has not made yet is made as chibi would: its directory owner's, 0644.</summary>
    private static PosixFile Open(string lockPath) =>
        PosixFile.OpenOrCreate(lockPath, PosixFile.ReadWrite | PosixFile.NoFollow, () => FileOwner.For(lockPath));

    public void Dispose() => _file.Dispose(); // closing the descriptor releases the flock
}

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
    /// opening it O_CREAT would create or lock a file outside the store (SPEC §3).
    /// </summary>
    public static FileLock Acquire(string lockPath)
    {
        var file = PosixFile.OpenOrThrow(lockPath, PosixFile.ReadWrite | PosixFile.Create | PosixFile.NoFollow, 0x1A4);
        int errno = file.Lock(exclusive: true);
        if (errno != 0)
        {
            file.Dispose();
            throw new PosixException(errno, $"flock {lockPath}");
        }
        return new FileLock(file);
    }

    /// <summary>Null when someone else holds it.</summary>
    public static FileLock? TryAcquire(string lockPath)
    {
        var file = PosixFile.OpenOrThrow(lockPath, PosixFile.ReadWrite | PosixFile.Create | PosixFile.NoFollow, 0x1A4);
        if (file.Lock(exclusive: true, nonBlocking: true) == 0) return new FileLock(file);
        file.Dispose();
        return null;
    }

    public void Dispose() => _file.Dispose(); // closing the descriptor releases the flock
}

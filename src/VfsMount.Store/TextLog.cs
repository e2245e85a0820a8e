using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// A context's transcript.md: human-readable text that chibi appends to with plain, unlocked
/// O_APPEND writes. The mount's writers (this daemon's and any other daemon's on the store)
/// append under a lock of their own, which chibi never takes, so they never wait for chibi
/// and chibi never waits for them; the kernel keeps each O_APPEND write whole.
/// </summary>
public sealed class TextLog(string contextDir, string context)
{
    /// <summary>The mount's own lock beside transcript.md: internal, never listed.</summary>
    public const string LockName = ".vfsmount-transcript-md.lock";

    public string Path { get; } = System.IO.Path.Combine(contextDir, "transcript.md");
    public string LockPath { get; } = System.IO.Path.Combine(contextDir, LockName);

    /// <summary>
    /// Appends whole lines (payload ends with '\n') in one write, fsync'd when it returns.
    /// On failure nothing is cut back: chibi may have appended after our bytes without a
    /// lock, and cutting the file to its old size would delete its lines. Space is reserved
    /// before the write, so a full disk fails it before anything is written; what part of a
    /// write that fails otherwise (EIO) reached the file stays, and the failure is logged and thrown.
    /// </summary>
    public void Append(ReadOnlySpan<byte> payload)
    {
        using var held = FileLock.Acquire(LockPath);   // ENOENT once the context is gone: never recreated
        using var file = PosixFile.OpenOrCreate(Path, PosixFile.WriteOnly | PosixFile.Append | PosixFile.NoFollow, () => FileOwner.For(Path));
        // Space first: a full disk then refuses the append before a byte of it is written
        // (ENOSPC, nothing half-written), without ever cutting the file.
        int errno = file.Status(out var st);
        if (errno == 0) errno = file.Reserve(st.Size, payload.Length);
        if (errno == Libc.EOPNOTSUPP) errno = 0;   // a filesystem without fallocate: write and see
        if (errno != 0) throw new PosixException(errno, $"reserve space in {Path}");
        errno = file.WriteAll(payload);
        errno = HoldPoint.Hit("text-log-after-write", Path, errno);
        if (errno == 0) errno = file.Sync();
        if (errno == 0) return;
        Console.Error.WriteLine($"vfsmount: {context}: transcript.md: an append of {payload.Length} bytes failed ({errno}); not cut back, chibi may have appended after it");
        throw new PosixException(errno, $"append to {Path}");
    }
}

using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

/// <summary>
/// chibi's `.dirty` (mark_context_dirty): an empty file in the context directory that makes
/// chibi's next load rebuild context.jsonl — the agent's window — from the transcript. An entry
/// appended only to the transcript reaches the agent through it (SPEC §2.1 "chibi's window").
/// </summary>
public static class DirtyMarker
{
    public const string Name = ".dirty";

    /// <summary>
    /// Creates the marker when absent (one statx when present). Durable when it returns: the
    /// directory is fsync'd after a creation, so an acknowledged append never loses its mark.
    /// Never follows or replaces whatever already holds the name.
    /// </summary>
    public static void Mark(string contextDir)
    {
        string path = Path.Combine(contextDir, Name);
        if (FileStatus.Lstat(path, out _) == 0) return;
        var owner = FileOwner.For(path);   // its directory's owner (SPEC §2.5), asked before the file exists
        int errno = PosixFile.Open(path, PosixFile.WriteOnly | PosixFile.Create | PosixFile.Exclusive | PosixFile.NoFollow, 0x1A4, out var file);
        if (errno == 17) return;   // EEXIST: chibi or another appender was quicker
        if (errno != 0) throw new PosixException(errno, path);
        using (file)
        {
            errno = file!.TakeOwner(owner);
            if (errno != 0) throw new PosixException(errno, $"chown {path}");
        }
        errno = PosixFile.SyncDirectory(contextDir);
        if (errno != 0) throw new PosixException(errno, contextDir);
    }
}

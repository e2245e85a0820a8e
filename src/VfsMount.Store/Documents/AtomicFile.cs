using VfsMount.Store.Posix;

namespace VfsMount.Store.Documents;

/// <summary>
/// Replaces a file so readers see the old bytes or the new, never a mix, and the new bytes
/// survive a crash once this returns: temp file in the same directory, fsync, rename, fsync
/// of the directory (the step chibi leaves out).
/// </summary>
public static class AtomicFile
{
    /// <summary>Prefix of the mount's temp and staging files: hidden from the view, removed by recovery.</summary>
    public const string TempPrefix = ".vfsmount-tmp-";

    public static string NewTempPath(string target) =>
        Path.Combine(Path.GetDirectoryName(target)!, $"{TempPrefix}{Path.GetFileName(target)}.{Guid.NewGuid():N}");

    public static void Write(string target, ReadOnlySpan<byte> content)
    {
        using var file = CreateHeldTemp(target, out string temp);
        try
        {
            Check(file.TakeOwner(FileOwner.For(target)), temp);
            Check(file.WriteAll(content), temp);
            Check(file.Sync(), temp);
            CrashPoint.Hit("document-before-rename");
            Commit(temp, target);
        }
        catch
        {
            PathOps.Unlink(temp);
            throw;
        }
    }

    /// <summary>
    /// A new, empty temp file beside target, opened read-write with a shared flock held on it
    /// for as long as it stays open: the mark of a live writer. Recovery (`check --repair`, a
    /// second daemon mounting) deletes only temp files it can lock exclusively, so it never
    /// deletes a staged copy or commit a daemon is using, however long it has been idle.
    /// Shared, not exclusive: .NET's own file opens take LOCK_SH too (its FileShare emulation)
    /// and must still be able to read the file.
    /// </summary>
    public static PosixFile CreateHeldTemp(string target, out string path)
    {
        while (true)
        {
            path = NewTempPath(target);
            var file = PosixFile.OpenOrThrow(path, PosixFile.ReadWrite | PosixFile.Create | PosixFile.Exclusive | PosixFile.NoFollow, 0x1A4);
            // Between create and flock the file is unheld: recovery may delete it (it unlinks only
            // what it holds exclusively, so once our lock is taken the name stays). Deleted, the
            // file has no link left: then try a new name (nobody else makes this one).
            if (file.Lock(exclusive: false) == 0 && file.Status(out var held) == 0 && held.Links > 0)
                return file;
            file.Dispose();
        }
    }

    /// <summary>
    /// Copies the content, owner and mode of source (an open file) into the open, empty
    /// file at path, which keeps its inode and its lock (File.Copy would replace both).
    /// </summary>
    public static void CopyInto(PosixFile source, PosixFile file, string path)
    {
        Check(source.Status(out var st), path);
        var buffer = new byte[(int)Math.Min(1 << 20, Math.Max(st.Size, 1))];
        for (long at = 0; ; )
        {
            long n = source.ReadAt(buffer, at);
            if (n < 0) Check((int)-n, path);
            if (n <= 0) break;
            Check(file.WriteAllAt(buffer.AsSpan(0, (int)n), at), path);
            at += n;
        }
        Check(file.TakeOwner(new FileOwner(st.Uid, st.Gid, st.Permissions)), path);
    }

    /// <summary>
    /// Renames an fsync'd temp file (beside the target) over the target and makes the rename
    /// durable: one descriptor of the directory, opened beneath the store root, serves the
    /// rename in it and its fsync.
    /// </summary>
    public static void Commit(string durableTemp, string target)
    {
        string directory = Path.GetDirectoryName(target)!;
        if (Path.GetDirectoryName(durableTemp) != directory) throw new ArgumentException($"{durableTemp} is not beside {target}");
        using var dir = PosixFile.OpenOrThrow(directory, PosixFile.ReadOnly | PosixFile.Directory);
        Check(dir.RenameIn(Path.GetFileName(durableTemp), Path.GetFileName(target)), target);
        Check(dir.Sync(), target);
    }

    private static void Check(int errno, string path)
    {
        if (errno != 0) throw new PosixException(errno, path);
    }
}

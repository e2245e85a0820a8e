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
        string temp = NewTempPath(target);
        try
        {
            using (var file = PosixFile.OpenOrThrow(temp, PosixFile.WriteOnly | PosixFile.Create | PosixFile.Exclusive, 0x1A4))
            {
                Check(file.WriteAll(content), temp);
                Check(file.Sync(), temp);
            }
            CrashPoint.Hit("document-before-rename");
            Commit(temp, target);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Renames an fsync'd temp file over the target and makes the rename durable.</summary>
    public static void Commit(string durableTemp, string target)
    {
        File.Move(durableTemp, target, overwrite: true);
        Check(PosixFile.SyncDirectory(Path.GetDirectoryName(target)!), target);
    }

    private static void Check(int errno, string path)
    {
        if (errno != 0) throw new PosixException(errno, path);
    }
}

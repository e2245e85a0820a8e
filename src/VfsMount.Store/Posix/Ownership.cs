namespace VfsMount.Store.Posix;

/// <summary>
/// SPEC §2.5: what a caller makes through the mount is the caller's, as if the caller had made
/// it in the store directly — owner, group (a set-gid directory's group, as natively) and the
/// requested mode, whatever the daemon's own umask. The daemon makes it, then hands it over.
/// </summary>
public static class Ownership
{
    public const uint Unchanged = uint.MaxValue;

    public static readonly uint DaemonUid = Libc.GetEuid(), DaemonGid = Libc.GetEgid();

    /// <summary>The daemon's umask, read once (umask(2) cannot be read without changing it).</summary>
    private static readonly uint DaemonUmask = ReadUmask();

    public enum Made { File, Directory, Symlink }

    /// <summary>Gives what the daemon just made at path to (uid, gid) with mode (the caller's umask applied). Returns 0 or errno.</summary>
    public static int GiveTo(string path, uint uid, uint gid, uint mode, Made made)
    {
        bool foreign = uid != DaemonUid || gid != DaemonGid;
        bool inherited = false;
        if (foreign && DaemonUid == 0)
        {
            // A set-gid directory's group is what its new entries get, natively too.
            inherited = FileStatus.Lstat(Path.GetDirectoryName(path)!, out var dir) == 0 && (dir.Mode & 0x400) != 0;
            int errno = PathOps.LChown(path, uid, inherited ? Unchanged : gid);
            if (errno != 0) return errno;
        }
        if (made == Made.Symlink) return 0;
        // Bits the daemon's umask took, or the set-id bits chown clears, go back on.
        bool lost = (mode & DaemonUmask) != 0 || foreign && made == Made.File && (mode & 0xC00) != 0;
        if (!lost) return 0;
        uint want = mode & 0xFFF;
        if (made == Made.Directory)
        {
            // mkdir(2) takes no set-id bits from its mode; set-gid comes from the parent.
            if (FileStatus.Lstat(path, out var st) != 0) return 0;
            want = (mode & 0x3FF) | (st.Mode & 0x400);
        }
        return PathOps.Chmod(path, want);
    }

    /// <summary>A file or directory the mount made on its own takes its directory's owner (SPEC §2.5). Best effort: the store stays usable by root either way.</summary>
    public static void TakeParentsOwner(string path)
    {
        if (DaemonUid != 0 || FileStatus.Lstat(Path.GetDirectoryName(path)!, out var parent) != 0) return;
        if (parent.Uid != DaemonUid || parent.Gid != DaemonGid) PathOps.LChown(path, parent.Uid, parent.Gid);
    }

    /// <summary>A new context: its directory and everything the mount made in it become the caller's.</summary>
    public static int GiveTreeTo(string directory, uint uid, uint gid)
    {
        if (uid == DaemonUid && gid == DaemonGid || DaemonUid != 0) return 0;
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Prepend(new DirectoryInfo(directory)))
        {
            int errno = PathOps.LChown(entry.FullName, uid, gid);
            if (errno != 0) return errno;
        }
        return 0;
    }

    private static uint ReadUmask()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("Umask:", StringComparison.Ordinal))
                return Convert.ToUInt32(line[6..].Trim(), 8);
        return 0x12;   // 022, the usual
    }
}

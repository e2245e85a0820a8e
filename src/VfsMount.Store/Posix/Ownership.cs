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

    public enum Made { File, Directory, Symlink, Special }

    /// <summary>
    /// Gives what the daemon just made at path to (uid, gid) with mode (the caller's umask
    /// applied). The entry is pinned by an O_PATH descriptor and must still be the daemon's own
    /// of the kind made: the ids go to that inode, never to what a caller swapped in at the name
    /// since (EAGAIN then, and it stays the daemon's). Returns 0 or errno.
    /// </summary>
    public static int GiveTo(string path, uint uid, uint gid, uint mode, Made made)
    {
        if (!Foreign(uid, gid) && (mode & DaemonUmask) == 0) return 0;
        int errno = PathOps.OpenEntry(path, out var entry);
        if (errno != 0) return errno;
        using (entry)
        {
            if ((errno = entry!.Status(out var st)) != 0) return errno;
            bool kind = made switch
            {
                Made.Directory => st.IsDirectory,
                Made.Symlink => st.IsSymlink,
                Made.File => st.IsRegular,
                _ => !st.IsDirectory && !st.IsSymlink && !st.IsRegular,
            };
            if (!kind || st.Uid != DaemonUid) return Libc.EAGAIN;
            return GiveTo(entry, path, st, uid, gid, mode, made);
        }
    }

    /// <summary>As <see cref="GiveTo(string, uint, uint, uint, Made)"/>, for a file this call created and holds open.</summary>
    public static int GiveTo(PosixFile created, string path, uint uid, uint gid, uint mode)
    {
        if (!Foreign(uid, gid) && (mode & DaemonUmask) == 0) return 0;
        int errno = created.Status(out var st);
        return errno != 0 ? errno : GiveTo(created, path, st, uid, gid, mode, Made.File);
    }

    private static bool Foreign(uint uid, uint gid) => (uid != DaemonUid || gid != DaemonGid) && DaemonUid == 0;

    private static int GiveTo(PosixFile entry, string path, in FileStatus st, uint uid, uint gid, uint mode, Made made)
    {
        bool foreign = Foreign(uid, gid);
        if (foreign)
        {
            // A set-gid directory's group is what its new entries get, natively too: the daemon's
            // create gave it already.
            int errno = FileStatus.Lstat(Path.GetDirectoryName(path)!, out var dir);
            if (errno != 0) return errno;
            bool inherited = dir.IsSetGid;
            errno = entry.ChownEntry(uid, inherited ? Unchanged : gid);
            if (errno != 0) return errno;
        }
        if (made == Made.Symlink) return 0;
        // Bits the daemon's umask took, or the set-id bits chown clears, go back on.
        bool lost = (mode & DaemonUmask) != 0 || foreign && made == Made.File && (mode & SetIds) != 0;
        if (!lost) return 0;
        // mkdir(2) takes no set-id bits from its mode; set-gid comes from the parent.
        uint want = made == Made.Directory ? (mode & 0x3FF) | (st.Mode & SetGid) : mode & 0xFFF;
        return entry.ChmodEntry(want);
    }

    private const uint SetGid = 0x400, SetIds = 0xC00;   // 02000, 06000

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
        // Under a set-gid contexts/, its group, as mkdir(2) there would give.
        if (FileStatus.Lstat(Path.GetDirectoryName(directory)!, out var parent) == 0 && parent.IsSetGid) gid = parent.Gid;
        // Deepest first, the context directory last: until it is the caller's, the caller cannot
        // put anything in it for root to chown.
        return PathOps.PostOrder(directory, (path, _) => PathOps.LChown(path, uid, gid));
    }

    private static uint ReadUmask()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("Umask:", StringComparison.Ordinal))
                return Convert.ToUInt32(line[6..].Trim(), 8);
        return 0x12;   // 022, the usual
    }
}

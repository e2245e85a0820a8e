namespace VfsMount.Store.Posix;

/// <summary>
/// The kernel's write-permission rule for a caller, for the rare operation whose files the
/// kernel never sees: removing a context deletes the chibi files in its directory, which a
/// user may do only with write permission on that directory (as rm -r would need).
/// </summary>
public static class Access
{
    public static bool MayWrite(in FileStatus dir, uint uid, uint gid, int pid)
    {
        if (uid == 0) return true;
        if (uid == dir.Uid) return (dir.Mode & 0x80) != 0;                       // u+w
        if (gid == dir.Gid || GroupsOf(pid).Contains(dir.Gid)) return (dir.Mode & 0x10) != 0;   // g+w
        return (dir.Mode & 0x2) != 0;                                            // o+w
    }

    /// <summary>The caller's supplementary groups, from /proc (empty when it is gone).</summary>
    private static uint[] GroupsOf(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("Groups:", StringComparison.Ordinal))
                    return [.. line[7..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return [];
    }
}

namespace VfsMount.Store;

/// <summary>Which chibi wrote the store (STORE-FORMAT.md "Legacy and chibi 0.10"): the mount writes what that chibi reads.</summary>
public static class StoreLayout
{
    public const string SessionName = "session.json";
    public const string VfsName = "vfs";

    /// <summary>chibi 0.10 keeps its session in session.json and its shared files in vfs/.</summary>
    public static bool IsChibi010(string root) =>
        Posix.FileStatus.Exists(Path.Combine(root, SessionName))
        || (Posix.FileStatus.Lstat(Path.Combine(root, VfsName), out var vfs) == 0 && vfs.IsDirectory);
}

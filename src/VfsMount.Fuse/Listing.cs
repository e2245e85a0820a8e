using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// A directory's names as read at the last readdir from offset 0, kept on its node: the kernel
/// caches listings (FOPEN_CACHE_DIR) and may continue one begun through another open of the
/// directory — or, without opendir, through none — so the offset it sends back (the next index)
/// indexes this, not a handle's own copy.
/// </summary>
internal sealed class Listing
{
    /// <summary>Swapped whole at each refill, so a reader at an offset sees one listing.</summary>
    public List<DirEntry> Entries { get; private set; } = [];

    /// <summary>Reads the directory again (opendir, rewinddir): offset 0 starts a new listing.</summary>
    public int Refill(IFileSystem fs, string path)
    {
        var entries = new List<DirEntry>();
        int r = fs.ReadDir(path, entries);
        if (r == 0) Entries = entries.FindAll(e => e.Name is not ("." or "..") && e.Name.Length > 0
            && !e.Name.Contains('/') && !e.Name.Contains('\0'));
        return r;
    }

    /// <summary>
    /// A plain readdir's d_ino for a name the kernel holds no node for: stable per path and
    /// never 0 (which some programs take as a deleted entry), in a range node ids never reach.
    /// </summary>
    public static ulong PlaceholderIno(string path)
    {
        ulong h = 14695981039346656037;   // FNV-1a
        foreach (char c in path) h = (h ^ c) * 1099511628211;
        return h | (1UL << 63);
    }
}

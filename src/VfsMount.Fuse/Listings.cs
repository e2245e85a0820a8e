using System.Collections.Concurrent;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// Open directory handles: each holds the listing it read at offset 0, so readdir can page
/// through it by index (the offset the kernel sends back is the next index).
/// </summary>
internal sealed class Listings
{
    private readonly ConcurrentDictionary<ulong, Listing> _open = new();
    private long _last;

    public ulong Open(Node dir)
    {
        ulong id = (ulong)Interlocked.Increment(ref _last);
        _open[id] = new Listing(dir);
        return id;
    }

    public Listing? Get(ulong fh) => _open.TryGetValue(fh, out var l) ? l : null;

    public void Close(ulong fh) => _open.TryRemove(fh, out _);
}

/// <summary>One open directory: its node and the names read at the last rewind.</summary>
internal sealed class Listing(Node dir)
{
    public Node Dir { get; } = dir;
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

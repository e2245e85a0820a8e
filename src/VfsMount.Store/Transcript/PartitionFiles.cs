using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

/// <summary>
/// Archived partitions a reader of the transcript keeps open (ARCHITECTURE: "fds of partitions
/// kept open while their node lives"): a sequential read of the whole transcript opens each
/// partition once, not once per read request. Archived partitions never change, so an open one
/// is good for as long as its (path, inode, birth) is in the manifest. Bounded: the least recently
/// used goes once more are open, closed when no read still uses it. Owned by one reader (a
/// handle) and disposed when it is released.
/// </summary>
public sealed class PartitionFiles : IDisposable
{
    private const int Kept = 4;
    private readonly Lock _lock = new();   // a leaf: nothing else is taken while it is held
    private readonly LinkedList<Entry> _recent = [];   // most recent first
    private bool _disposed;

    private sealed class Entry(string path, ulong inode, long birth, PosixFile file)
    {
        public readonly string Path = path;
        public readonly ulong Inode = inode;
        public readonly long Birth = birth;
        public readonly PosixFile File = file;
        public int Users;
        public bool Dropped;
    }

    /// <summary>Reads from the partition at path (inode, birth: its identity in the layout); what pread returns (bytes, or -errno).</summary>
    internal long ReadAt(string path, ulong inode, long birth, Span<byte> buffer, long offset)
    {
        var entry = Take(path, inode, birth);
        if (entry is null) return ReadByPath(path, buffer, offset);
        try
        {
            return entry.File.ReadAt(buffer, offset);
        }
        finally
        {
            Give(entry);
        }
    }

    /// <summary>Opens, reads, closes: a partition not kept open.</summary>
    internal static long ReadByPath(string path, Span<byte> buffer, long offset)
    {
        int errno = PosixFile.Open(path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
        if (errno != 0) return -errno;
        using (file) return file!.ReadAt(buffer, offset);
    }

    /// <summary>The open partition, opened now if it is not; null when it cannot be kept (then read it once).</summary>
    private Entry? Take(string path, ulong inode, long birth)
    {
        lock (_lock)
        {
            if (_disposed) return null;
            for (var n = _recent.First; n is not null; n = n.Next)
            {
                if (n.Value.Path != path || n.Value.Inode != inode || n.Value.Birth != birth) continue;
                _recent.Remove(n);
                _recent.AddFirst(n);
                n.Value.Users++;
                return n.Value;
            }
        }
        // Opened outside the lock; another reader may open the same one meanwhile (both kept briefly).
        if (PosixFile.Open(path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file) != 0) return null;
        if (file!.Status(out var st) != 0 || st.Inode != inode || st.BirthNs != birth)
        {
            file.Dispose();   // not the partition the layout placed: read the path once, as before
            return null;
        }
        var entry = new Entry(path, inode, birth, file) { Users = 1 };
        List<Entry> dropped = [];
        lock (_lock)
        {
            if (_disposed)
            {
                entry.Dropped = true;
            }
            else
            {
                _recent.AddFirst(entry);
                while (_recent.Count > Kept)
                {
                    var last = _recent.Last!.Value;
                    _recent.RemoveLast();
                    last.Dropped = true;
                    if (last.Users == 0) dropped.Add(last);
                }
            }
        }
        foreach (var e in dropped) e.File.Dispose();
        return entry;
    }

    private void Give(Entry entry)
    {
        bool close;
        lock (_lock) close = --entry.Users == 0 && entry.Dropped;
        if (close) entry.File.Dispose();
    }

    /// <summary>Closes every partition no read uses; one still read is closed when that read ends.</summary>
    public void Dispose()
    {
        List<Entry> idle = [];
        lock (_lock)
        {
            _disposed = true;
            foreach (var e in _recent)
            {
                e.Dropped = true;
                if (e.Users == 0) idle.Add(e);
            }
            _recent.Clear();
        }
        foreach (var e in idle) e.File.Dispose();
    }
}

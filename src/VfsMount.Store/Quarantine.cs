using System.Text;
using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// Where refused or torn content goes so nothing a user wrote is silently lost:
/// STORE/.vfsmount/quarantine/, one file per refusal, bounded in bytes (oldest dropped first).
/// </summary>
public sealed class Quarantine(string directory, long maxBytes = Quarantine.DefaultMaxBytes, MountCounters? counters = null)
{
    public const long DefaultMaxBytes = 64L << 20;
    private readonly Lock _lock = new();
    private long _sequence;

    public string Directory { get; } = directory;

    /// <summary>Keeps the bytes; returns the file they went to (null when too large to keep at all).</summary>
    public string? Keep(string context, string file, string reason, ReadOnlySpan<byte> content)
    {
        if (content.Length > maxBytes) return null;
        lock (_lock)
        {
            // One level at a time, beneath the store root: a planted .vfsmount/ symlink is ELOOP, never a directory made elsewhere.
            Check(PathOps.MakeDirectory(Path.GetDirectoryName(Directory)!), Directory);
            Check(PathOps.MakeDirectory(Directory), Directory);
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            string name = $"{now:D13}-{Interlocked.Increment(ref _sequence):D6}-{Sanitize(context)}-{Sanitize(file)}.bin";
            string path = Path.Combine(Directory, name);
            WriteNew(path, content, sync: true);
            WriteNew(path + ".reason", Encoding.UTF8.GetBytes(reason + "\n"), sync: false);   // no BOM: a person reads it with cat
            counters?.Quarantined(context, content.Length);
            Trim();
            return path;
        }
    }

    public IReadOnlyList<string> Entries() =>
        PathOps.List(Directory, out var names) != 0
            ? []
            : names.Where(n => n.EndsWith(".bin", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(n => Path.Combine(Directory, n)).ToList();

    private void Trim()
    {
        var files = Entries().Select(p => (Path: p, Size: FileStatus.Lstat(p, out var st) == 0 ? st.Size : 0)).ToList();
        long total = files.Sum(f => f.Size);
        foreach (var f in files)   // names start with the time, so this is oldest first
        {
            if (total <= maxBytes) break;
            total -= f.Size;
            PathOps.Unlink(f.Path);
            PathOps.Unlink(f.Path + ".reason");
        }
    }

    private static void WriteNew(string path, ReadOnlySpan<byte> content, bool sync)
    {
        // 0600: refused content may come from a private file; only the store's owner reads it back.
        var owner = FileOwner.For(path) with { Mode = 0x180 };
        using var file = PosixFile.OpenOrThrow(path, PosixFile.WriteOnly | PosixFile.Create | PosixFile.Exclusive | PosixFile.NoFollow, 0x180);
        Check(file.TakeOwner(owner), path);
        Check(file.WriteAll(content), path);
        if (sync) Check(file.Sync(), path);
    }

    private static void Check(int errno, string path)
    {
        if (errno != 0) throw new PosixException(errno, path);
    }

    private static string Sanitize(string s) =>
        new(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').Take(64).ToArray());
}

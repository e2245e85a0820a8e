using VfsMount.Store.Posix;
using System.Text;

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
            if (!System.IO.Directory.Exists(Directory))
            {
                System.IO.Directory.CreateDirectory(Directory);
                Ownership.TakeParentsOwner(Directory);
            }
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            string name = $"{now:D13}-{Interlocked.Increment(ref _sequence):D6}-{Sanitize(context)}-{Sanitize(file)}.bin";
            string path = Path.Combine(Directory, name);
            using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                f.Write(content);
                f.Flush(flushToDisk: true);
            }
            File.WriteAllText(path + ".reason", reason + "\n", new UTF8Encoding(false));   // no BOM: a person reads it with cat
            Ownership.TakeParentsOwner(path);
            Ownership.TakeParentsOwner(path + ".reason");
            counters?.Quarantined(context, content.Length);
            Trim();
            return path;
        }
    }

    public IReadOnlyList<string> Entries() =>
        System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.GetFiles(Directory, "*.bin").Order(StringComparer.Ordinal).ToList()
            : [];

    private void Trim()
    {
        var files = Entries().Select(p => new FileInfo(p)).ToList();
        long total = files.Sum(f => f.Length);
        foreach (var f in files)   // names start with the time, so this is oldest first
        {
            if (total <= maxBytes) break;
            total -= f.Length;
            f.Delete();
            File.Delete(f.FullName + ".reason");
        }
    }

    private static string Sanitize(string s) =>
        new(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').Take(64).ToArray());
}

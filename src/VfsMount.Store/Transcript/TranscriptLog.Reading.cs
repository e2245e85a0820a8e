using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

public sealed partial class TranscriptLog
{
    /// <summary>One file of the whole transcript (its inode and birth: which file the layout placed there) and where its bytes start in it.</summary>
    private readonly record struct Segment(string Path, ulong Inode, long Birth, long Start, long Length);

    /// <summary>
    /// The partitions' layout; rebuilt only when the manifest changes (partitions never change)
    /// or, while there is one, the legacy transcript.jsonl does (it is migrated, never appended to).
    /// </summary>
    private sealed record Layout(FileStatus Manifest, FileStatus? Legacy, Segment[] Archived, long ArchivedBytes);

    private volatile Layout? _layout;

    /// <summary>Optimistic tries before a reader settles the answer under the transcript lock.</summary>
    private const int OptimisticTries = 8;

    /// <summary>Bytes of the whole transcript: all partitions, then the active one.</summary>
    public long Length => Measure(out _);

    /// <summary>The whole transcript's length, and active.jsonl's status (null when absent) for getattr.</summary>
    /// <remarks>
    /// A sequence lock with the manifest as its counter: the layout (archived bytes) is read,
    /// then active.jsonl, then the manifest again, and the answer stands only if the manifest
    /// did not change in between. A rotation (ours or chibi's, under the transcript lock)
    /// replaces the manifest before anyone can append to a new active.jsonl, so a size read
    /// against a layout still current is the size at one instant: it never shrinks, and
    /// `tail -f` never takes a rotation for a truncation. Without active.jsonl (inside a
    /// rotation, its bytes in neither place for a moment) or after repeated changes, the
    /// answer is taken under the transcript lock.
    /// </remarks>
    public long Measure(out FileStatus? active)
    {
        RefuseLinkedOut();
        for (int attempt = 0; attempt < OptimisticTries; attempt++)
        {
            var layout = CurrentLayout();
            HoldPoint.Hit("transcript-measure-after-layout", Directory);
            long length = layout.ArchivedBytes + ActiveLength(out active);
            // A legacy transcript may be migrated at any moment: its answer is taken under the lock.
            if (active is null || layout.Legacy is not null) break;
            if (IsCurrent(layout)) return length;
        }
        using var held = SettledLock();
        return CurrentLayout().ArchivedBytes + ActiveLength(out active);
    }

    /// <summary>The transcript lock, for a reader that could not get a settled answer; null without a transcript directory.</summary>
    private FileLock? SettledLock() => FileStatus.Lstat(Directory, out var st) == 0 && st.IsDirectory ? FileLock.Acquire(LockPath) : null;

    /// <summary>
    /// Reads the transcript's bytes at offset into buffer; fewer than asked only at the end.
    /// Partitions are found by binary search on their start offsets, never by scanning files.
    /// </summary>
    /// <remarks>
    /// The same sequence lock as <see cref="Measure"/>: bytes read from active.jsonl count only
    /// if the layout they were placed by is still current afterwards, since after a rotation
    /// and the next append active.jsonl is a new file at the same offsets. So every byte
    /// returned is the byte at that offset forever.
    /// </remarks>
    /// <param name="partitions">Archived partitions the reader keeps open between reads, if any.</param>
    public int Read(Span<byte> buffer, long offset, PartitionFiles? partitions = null)
    {
        RefuseLinkedOut();
        for (int attempt = 0; attempt < OptimisticTries; attempt++)
        {
            var layout = CurrentLayout();
            int n = ReadOnce(layout, buffer, offset, partitions, out bool readActive, out bool absent);
            if (absent || layout.Legacy is not null) break;   // inside a rotation, or a legacy file: under the lock
            if (!readActive || IsCurrent(layout)) return n;   // archived partitions never change
        }
        using var held = SettledLock();
        return ReadOnce(CurrentLayout(), buffer, offset, partitions, out _, out _);
    }

    private int ReadOnce(Layout layout, Span<byte> buffer, long offset, PartitionFiles? partitions, out bool readActive, out bool absent)
    {
        readActive = absent = false;
        int total = ReadArchived(layout, buffer, offset, partitions);
        if (total == buffer.Length) return total;
        HoldPoint.Hit("transcript-read-after-archived", Directory);
        long activeOffset = offset + total - layout.ArchivedBytes;
        readActive = true;
        return total + ReadActive(buffer[total..], activeOffset, out absent);
    }

    private int ReadArchived(Layout layout, Span<byte> buffer, long offset, PartitionFiles? partitions)
    {
        var segments = layout.Archived;
        int i = FindSegment(segments, offset);
        int total = 0;
        for (; i < segments.Length && total < buffer.Length; i++)
        {
            var s = segments[i];
            long inSegment = offset + total - s.Start;
            int want = (int)Math.Min(buffer.Length - total, s.Length - inSegment);
            if (want <= 0) continue;
            // The legacy transcript (inode 0 here: it may still be migrated) is read by path each time.
            long n = partitions is not null && s.Inode != 0 ? partitions.ReadAt(s.Path, s.Inode, s.Birth, buffer.Slice(total, want), inSegment)
                : PartitionFiles.ReadByPath(s.Path, buffer.Slice(total, want), inSegment);
            if (n < 0) throw new PosixException((int)-n, s.Path);
            total += (int)n;
            if (n < want) break;
        }
        return total;
    }

    private int ReadActive(Span<byte> buffer, long offset, out bool absent)
    {
        absent = false;
        if (offset < 0) return 0;
        int errno = PosixFile.Open(ActivePath, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
        absent = errno == 2;
        if (absent) return 0;
        if (errno != 0) throw new PosixException(errno, ActivePath);
        using (file)
        {
            long n = file!.ReadAt(buffer, offset);
            if (n < 0) throw new PosixException((int)-n, ActivePath);
            return (int)n;
        }
    }

    private static int FindSegment(Segment[] segments, long offset)
    {
        int lo = 0, hi = segments.Length - 1, found = segments.Length;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (segments[mid].Start + segments[mid].Length > offset) { found = mid; hi = mid - 1; }
            else lo = mid + 1;
        }
        return found;
    }

    private long ActiveLength(out FileStatus? active)
    {
        active = FileStatus.Lstat(ActivePath, out var st) == 0 ? st : null;
        return active?.Size ?? 0;
    }

    /// <summary>Whether the manifest changed since the layout was built (absent: all zero, as before the first rotation).</summary>
    private bool IsStale(Layout? layout, out FileStatus manifest)
    {
        FileStatus.Lstat(ManifestPath, out manifest);
        if (layout is null || !SameVersion(manifest, layout.Manifest)) return true;
        // A legacy file's migration (ours or chibi's, under the lock) moves its bytes to active.jsonl.
        return layout.Legacy is { } legacy && (FileStatus.Lstat(LegacyPath, out var now) != 0 || !SameVersion(now, legacy));   // reading moves atime
    }

    /// <summary>The sequence lock's check: the manifest the layout was built from is still the one in place.</summary>
    private bool IsCurrent(Layout layout) => !IsStale(layout, out _);

    /// <summary>
    /// One version of the manifest (it is only ever replaced by rename, or edited in place):
    /// inode, size and change times, not the access time that reading it moves.
    /// </summary>
    private static bool SameVersion(in FileStatus a, in FileStatus b) =>
        a.Inode == b.Inode && a.Size == b.Size && a.ModifyNs == b.ModifyNs && a.ChangeNs == b.ChangeNs;

    private Layout CurrentLayout()
    {
        var layout = _layout;
        if (!IsStale(layout, out var st)) return layout!;

        var segments = new List<Segment>();
        long start = 0;
        FileStatus? legacy = null;
        if (st.Inode == 0 && FileStatus.Lstat(LegacyPath, out var ls) == 0 && ls.IsRegular)
        {
            // Not migrated yet (STORE-FORMAT.md "Legacy"): it is the transcript, read before active.jsonl.
            legacy = ls;
            segments.Add(new Segment(LegacyPath, 0, 0, 0, ls.Size));
            start = ls.Size;
        }
        var manifest = st.Inode == 0 ? null : Manifest.Load(ManifestPath);
        if (manifest is not null)
        {
            foreach (var p in Manifest.Partitions(manifest))
            {
                string path = Path.Combine(Directory, p.File);
                if (!IsInside(path)) continue;
                int errno = FileStatus.Lstat(path, out var ps);
                if (errno == 2) continue;   // missing: skipped, as chibi
                if (errno == Libc.ELOOP || errno == Libc.ENOTDIR)   // partitions/ itself is planted
                    throw FileStatus.Lstat(PartitionsDir, out var dir) == 0 && !dir.IsDirectory
                        ? StoreRoot.Planted(PartitionsDir, dir, "directory")
                        : StoreRoot.Refused(path, "a symlink on the way; not followed", errno);
                if (errno != 0) throw new PosixException(errno, $"lstat {path}");
                if (!ps.IsRegular) throw StoreRoot.Planted(path, ps);   // never read in place of the partition, nor skipped silently
                segments.Add(new Segment(path, ps.Inode, ps.BirthNs, start, ps.Size));
                start += ps.Size;
            }
        }
        layout = new Layout(st, legacy, segments.ToArray(), start);
        _layout = layout;
        return layout;
    }

    /// <summary>A manifest entry must not lead the daemon out of the transcript directory.</summary>
    private bool IsInside(string path) =>
        Path.GetFullPath(path).StartsWith(Path.GetFullPath(Directory) + "/", StringComparison.Ordinal);
}

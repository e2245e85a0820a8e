using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

public sealed partial class TranscriptLog
{
    /// <summary>One file of the whole transcript and where its bytes start in it.</summary>
    private readonly record struct Segment(string Path, long Start, long Length);

    /// <summary>
    /// The partitions' layout; rebuilt only when the manifest changes (partitions never change)
    /// or, while there is one, the legacy transcript.jsonl does (it is migrated, never appended to).
    /// </summary>
    private sealed record Layout(FileStatus Manifest, FileStatus? Legacy, Segment[] Archived, long ArchivedBytes);

    private volatile Layout? _layout;

    /// <summary>Bytes of the whole transcript: all partitions, then the active one.</summary>
    /// <remarks>
    /// Without active.jsonl the answer is taken again under the transcript lock: a rotation
    /// (ours or chibi's, both under that lock) renames active.jsonl before it replaces the
    /// manifest, and in between the moved bytes are in neither — the size would shrink, and
    /// `tail -f` would take that for a truncation and print the file again.
    /// </remarks>
    public long Length => Measure(out _);

    /// <summary>The whole transcript's length, and active.jsonl's status (null when absent) for getattr.</summary>
    public long Measure(out FileStatus? active)
    {
        RefuseLinkedOut();
        var layout = CurrentLayout();
        long length = layout.ArchivedBytes + ActiveLength(out active);
        if (active is not null && layout.Legacy is null) return length;
        using var held = SettledLock();
        return held is null ? length : CurrentLayout().ArchivedBytes + ActiveLength(out active);
    }

    /// <summary>The transcript lock, for a reader that met active.jsonl absent; null without a transcript directory.</summary>
    private FileLock? SettledLock() => System.IO.Directory.Exists(Directory) ? FileLock.Acquire(LockPath) : null;

    /// <summary>
    /// Reads the transcript's bytes at offset into buffer; fewer than asked only at the end.
    /// Partitions are found by binary search on their start offsets, never by scanning files.
    /// </summary>
    public int Read(Span<byte> buffer, long offset)
    {
        RefuseLinkedOut();
        for (int attempt = 0; ; attempt++)
        {
            int n = ReadOnce(buffer, offset, out bool rotated, out bool absent);
            // A rotation between reading the layout and the active file moves the active bytes
            // into a partition: read again against the new layout, never return a short read.
            if (rotated && attempt < 3) continue;
            if (!absent && _layout?.Legacy is null) return n;
            // No active.jsonl: maybe inside a rotation (see Length); the lock gives the settled bytes.
            using var held = SettledLock();
            return held is null ? n : ReadOnce(buffer, offset, out _, out _);
        }
    }

    private int ReadOnce(Span<byte> buffer, long offset, out bool rotated, out bool absent)
    {
        rotated = absent = false;
        var layout = CurrentLayout();
        int total = ReadArchived(layout, buffer, offset);
        if (total == buffer.Length) return total;
        long activeOffset = offset + total - layout.ArchivedBytes;
        return total + ReadActive(buffer[total..], activeOffset, out rotated, out absent);
    }

    private int ReadArchived(Layout layout, Span<byte> buffer, long offset)
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
            int errno = PosixFile.Open(s.Path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
            if (errno != 0) throw new PosixException(errno, s.Path);
            using (file)
            {
                long n = file!.ReadAt(buffer.Slice(total, want), inSegment);
                if (n < 0) throw new PosixException((int)-n, s.Path);
                total += (int)n;
                if (n < want) break;
            }
        }
        return total;
    }

    private int ReadActive(Span<byte> buffer, long offset, out bool rotated, out bool absent)
    {
        rotated = absent = false;
        if (offset < 0) return 0;
        int errno = PosixFile.Open(ActivePath, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
        absent = errno == 2;
        if (absent) return 0;
        if (errno != 0) throw new PosixException(errno, ActivePath);
        using (file)
        {
            long n = file!.ReadAt(buffer, offset);
            if (n < 0) throw new PosixException((int)-n, ActivePath);
            if (n < buffer.Length && IsStale(_layout, out _)) rotated = true;
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
        if (layout is null || manifest != layout.Manifest) return true;
        // A legacy file's migration (ours or chibi's, under the lock) moves its bytes to active.jsonl.
        return layout.Legacy is { } legacy && (FileStatus.Lstat(LegacyPath, out var now) != 0 || now != legacy);
    }

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
            segments.Add(new Segment(LegacyPath, 0, ls.Size));
            start = ls.Size;
        }
        var manifest = st.Inode == 0 ? null : Manifest.Load(ManifestPath);
        if (manifest is not null)
        {
            foreach (var p in Manifest.Partitions(manifest))
            {
                string path = Path.Combine(Directory, p.File);
                if (!IsInside(path) || FileStatus.Lstat(path, out var ps) != 0 || !ps.IsRegular) continue;  // missing: skipped, as chibi
                segments.Add(new Segment(path, start, ps.Size));
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

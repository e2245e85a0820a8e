using System.Text.Json.Nodes;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

/// <summary>
/// A context's partitioned transcript (contexts/NAME/transcript/): durable appends under
/// chibi's transcript lock, rotation into partitions, and reads of any byte range of the
/// whole transcript (archived partitions in manifest order, then the active one).
/// Thread-safe; other processes (chibi) may append and rotate at the same time.
/// </summary>
public sealed partial class TranscriptLog
{
    private readonly string _context;
    private readonly string _storeRoot;
    private readonly StorageOptions _options;
    private readonly Quarantine _quarantine;
    private readonly MountCounters? _counters;
    private readonly Lock _statsLock = new();
    private readonly GroupCommit<Pending> _commits;
    private readonly NameProbe _dirtyName;
    private bool _directoryReady;

    // The lock file and active.jsonl, kept open between appends; used only by the batch leader
    // (GroupCommit runs one batch at a time).
    private readonly HeldLogSlot _held;

    /// <summary>One writer's lines in a group commit, and whether chibi's window must learn of them.</summary>
    private readonly record struct Pending(CompletedLines Lines, bool MarkDirty);
    private (ulong Inode, PartitionStats Stats)? _active;   // what we know of active.jsonl; under _statsLock

    public TranscriptLog(string contextDir, string context, string storeRoot, StorageOptions options, Quarantine quarantine, MountCounters? counters = null)
    {
        ContextDir = contextDir;
        Directory = Path.Combine(contextDir, "transcript");
        _context = context;
        _storeRoot = storeRoot;
        _options = options;
        _quarantine = quarantine;
        _counters = counters;
        _commits = new(AppendBatch);
        _dirtyName = new NameProbe(Path.Combine(contextDir, DirtyMarker.Name));
        _held = new HeldLogSlot(LockPath, ActivePath);
    }

    public string ContextDir { get; }
    public string Directory { get; }
    public string ActivePath => Path.Combine(Directory, Manifest.ActiveName);
    public string ManifestPath => Path.Combine(Directory, "manifest.json");
    public string LockPath => Path.Combine(Directory, ".transcript.lock");
    public string PartitionsDir => Path.Combine(Directory, "partitions");
    /// <summary>The transcript of a context from before partitions: a plain file beside transcript/.</summary>
    public string LegacyPath => Path.Combine(ContextDir, "transcript.jsonl");

    /// <summary>transcript/ planted as a symlink (or anything but a directory): never followed.</summary>
    public bool IsLinkedOut => FileStatus.Lstat(Directory, out var st) == 0 && !st.IsDirectory;

    /// <summary>The daemon never follows a symlink out of the store (SPEC §3): every use of a linked transcript/ is ELOOP, of a FIFO or other file EIO.</summary>
    private void RefuseLinkedOut()
    {
        if (FileStatus.Lstat(Directory, out var st) == 0 && !st.IsDirectory) throw StoreRoot.Planted(Directory, st, "directory");
    }

    public RotationPolicy Policy(JsonObject? manifest) => RotationPolicy.Resolve(_options, manifest, ContextDir, _storeRoot);

    /// <summary>
    /// Appends the entries as one unit: all or none, durable (fsync'd) when this returns, then
    /// rotates if a threshold is reached. Concurrent appends share one write and one fsync
    /// (<see cref="GroupCommit{T}"/>). Throws <see cref="StoreException"/> on failure.
    /// Then marks the context dirty for chibi's window, unless told not to (a new context's
    /// anchor: there is no window yet, and chibi's own creation leaves none to rebuild).
    /// </summary>
    public void Append(IReadOnlyList<CompletedEntry> entries, bool markDirty = true)
    {
        if (entries.Count == 0) return;
        using var lines = CompletedLines.From(entries);
        Append(lines, markDirty);
    }

    /// <summary>The same append of lines completed in place (the write path's: no copy before the write).</summary>
    public void Append(CompletedLines lines, bool markDirty = true)
    {
        if (lines.Count == 0) return;
        _commits.Commit(new Pending(lines, markDirty));
    }

    /// <summary>This process renamed or removed the context: the descriptors held for appends go (<see cref="HeldLogSlot.Retire"/>).</summary>
    public void Retire() => _held.Retire();

    /// <summary>One locked write and fsync for a batch of appends (each batch member whole), then the dirty mark.</summary>
    private void AppendBatch(IReadOnlyList<Pending> batch)
    {
        bool markDirty = false;
        foreach (var p in batch) markDirty |= p.MarkDirty;
        _held.Append(held => AppendLocked(held, batch));
        if (markDirty) MarkDirty();
    }

    private void AppendLocked(HeldLog held, IReadOnlyList<Pending> batch)
    {
        TakeLock(held);
        try
        {
            var file = held.Log(out var active);
            if (file is null)
            {
                MigrateLegacyLocked();
                file = held.Log(out active) ?? held.CreateLog(NewActiveOwner, out active);
            }
            // Resolved before writing: a manifest chibi cannot read (EIO) refuses the append whole,
            // instead of failing after the lines are in (the writer would retry and append them twice).
            var policy = CachedPolicy();
            bool tailKnown = EndsWhereWeKnow(active);
            long before;
            if (batch.Count == 1)
            {
                before = LineAppender.Append(file, active.Size, tailKnown, ActivePath, batch[0].Lines.Bytes, _quarantine, _context);
            }
            else
            {
                using var all = new CompletedLines();
                foreach (var p in batch)
                {
                    p.Lines.Bytes.CopyTo(all.GetSpan(p.Lines.Bytes.Length));
                    all.Advance(p.Lines.Bytes.Length);
                }
                before = LineAppender.Append(file, active.Size, tailKnown, ActivePath, all.Bytes, _quarantine, _context);
            }
            HoldPoint.Hit("transcript-append-durable", Directory);
            var stats = ActiveStatsAfter(before, active.Inode, batch, policy, file);
            ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (policy.IsDue(stats.Entries, stats.Tokens, stats.FirstTimestamp, now)) RotateAfterAppend();
        }
        finally
        {
            held.Unlock();
        }
    }

    /// <summary>
    /// The transcript lock, through the lock file held since the last append when its name still
    /// leads to it; otherwise by name, as the first append: transcript/ refused if planted, made
    /// if missing, and ENOENT when the context is gone.
    /// </summary>
    private void TakeLock(HeldLog held)
    {
        if (held.TryLockHeld()) return;
        RefuseLinkedOut();
        if (!_directoryReady)
        {
            // A context made by another program may lack transcript/. mkdir(2) of that one level:
            // a context removed or renamed meanwhile is ENOENT here, never made again without its anchor.
            int errno = PathOps.Mkdir(Directory, 0x1ED);
            if (errno == 2) throw new StoreException(2, $"context \"{_context}\" was removed or renamed");
            if (errno is not (0 or 17)) throw new PosixException(errno, $"mkdir {Directory}");
            if (errno == 0) Ownership.TakeParentsOwner(Directory);
            _directoryReady = true;
        }
        held.LockByName();
    }

    /// <summary>Whether active.jsonl ends where our last append left it (so its last byte is our '\n').</summary>
    private bool EndsWhereWeKnow(in FileStatus active)
    {
        lock (_statsLock) return _active is { } a && a.Inode == active.Inode && a.Stats.Bytes == active.Size;
    }

    /// <summary>
    /// A new active partition is the same log as the one rotated away (SPEC §2.5: owner and mode
    /// survive rotations): it takes the newest partition's, else transcript/'s owner.
    /// </summary>
    private FileOwner NewActiveOwner() =>
        NewestPartition() is { } newest && FileStatus.Lstat(newest, out var st) == 0 && st.IsRegular
            ? new FileOwner(st.Uid, st.Gid, st.Permissions)
            : FileOwner.For(ActivePath);

    /// <summary>
    /// The file whose owner and mode the log has (SPEC §2.5): the active partition, or between a
    /// rotation and the next append the newest partition, which the next active copies; null
    /// when neither exists.
    /// </summary>
    public string? OwnerFile() =>
        FileStatus.Lstat(ActivePath, out _) == 0 ? ActivePath : NewestPartition() is { } p && FileStatus.Lstat(p, out _) == 0 ? p : null;

    private string? NewestPartition() =>
        Manifest.Load(ManifestPath) is { } manifest && Manifest.Partitions(manifest).LastOrDefault() is { } newest
            ? Path.Combine(Directory, newest.File) : null;

    /// <summary>
    /// As chibi before its first append or rotation of a legacy context, under the transcript
    /// lock: the plain transcript.jsonl becomes transcript/active.jsonl (same bytes, same offsets
    /// in the whole transcript). Left alone when active.jsonl exists already: both are read.
    /// </summary>
    private void MigrateLegacyLocked()
    {
        if (FileStatus.Lstat(LegacyPath, out var st) != 0 || !st.IsRegular) return;
        if (FileStatus.Lstat(ActivePath, out _) == 0 || FileStatus.Exists(ManifestPath)) return;
        int errno = PathOps.Rename(LegacyPath, ActivePath, 0);
        if (errno != 0) throw new PosixException(errno, $"migrate {LegacyPath}");
        PosixFile.SyncDirectory(Directory);
        PosixFile.SyncDirectory(ContextDir);
        Console.Error.WriteLine($"vfsmount: {_context}: migrated the legacy transcript.jsonl to transcript/active.jsonl");
    }

    /// <summary>
    /// chibi's window must be rebuilt to include what was appended. The lines are durable
    /// already: a failure here is logged, never turned into a failed append the writer would retry.
    /// </summary>
    /// <remarks>
    /// After the write, so that a chibi load that deleted the marker before our lines were in
    /// makes us create it again. One statx while it exists (chibi deletes it only at a load);
    /// made, with its directory fsync'd, only when absent.
    /// </remarks>
    private void MarkDirty()
    {
        try
        {
            if (_dirtyName.Stat(out _) != 0) DirtyMarker.Mark(ContextDir);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"vfsmount: {_context}: could not mark the context dirty for chibi: {e.Message}");
        }
    }

    /// <summary>
    /// The lines are durable already, so a failed rotation (ENOSPC for the bloom file, a manifest
    /// broken meanwhile) must not turn the append into a failure the writer would retry: it is
    /// logged, and the next append or the age timer tries again.
    /// </summary>
    private void RotateAfterAppend()
    {
        try
        {
            RotateLocked();
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"vfsmount: {_context}: rotation failed, retried on the next append: {e.Message}");
        }
    }

    /// <summary>The timer's check for age: rotates when the active partition is due. True when it rotated.</summary>
    public bool RotateIfDue()
    {
        if (IsLinkedOut || !FileStatus.Exists(ActivePath)) return false;
        using var held = FileLock.Acquire(LockPath);
        var policy = CachedPolicy();
        using var file = PosixFile.OpenOrThrow(ActivePath, PosixFile.ReadOnly | PosixFile.NoFollow);
        var stats = KnownStats(file, policy);
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!policy.IsDue(stats.Entries, stats.Tokens, stats.FirstTimestamp, now)) return false;
        RotateLocked();
        return true;
    }

    /// <summary>Rotates now (under the lock) if the active partition holds any entry.</summary>
    public void Rotate()
    {
        RefuseLinkedOut();
        using var held = FileLock.Acquire(LockPath);
        RotateLocked();
    }

    /// <summary>Stats of active.jsonl after our append: counted incrementally when nobody else wrote.</summary>
    private PartitionStats ActiveStatsAfter(long before, ulong inode, IReadOnlyList<Pending> batch, RotationPolicy policy, PosixFile file)
    {
        lock (_statsLock)
        {
            if (_active is { } a && a.Inode == inode && a.Stats.Bytes == before)
            {
                foreach (var p in batch)
                    foreach (var f in p.Lines.Facts) a.Stats.Add(f.Timestamp, policy.TokensOf(f.ContentBytes), f.Length, f.IsUserMessage);
                return a.Stats;
            }
        }
        return KnownStats(file, policy);
    }

    /// <summary>Brings the cached stats up to the file's end, rescanning only what others appended.</summary>
    private PartitionStats KnownStats(PosixFile file, RotationPolicy policy)
    {
        file.Status(out var st);
        lock (_statsLock)
        {
            var stats = _active is { } a && a.Inode == st.Inode && a.Stats.Bytes <= st.Size ? a.Stats : new PartitionStats();
            stats.ScanFrom(file, policy);
            _active = (st.Inode, stats);
            return stats;
        }
    }

    private (RotationPolicy Policy, long At)? _policy;

    /// <summary>Thresholds re-read at most once a second: they come from files others may edit.</summary>
    private RotationPolicy CachedPolicy()
    {
        long now = Environment.TickCount64;
        if (_policy is { } p && now - p.At < 1000) return p.Policy;
        var policy = Policy(Manifest.Load(ManifestPath));
        _policy = (policy, now);
        return policy;
    }
}

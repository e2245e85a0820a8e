using System.Text.Json.Nodes;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

public sealed partial class TranscriptLog
{
    /// <summary>
    /// chibi's rotation, done better where STORE-FORMAT.md asks: the manifest is read under the
    /// lock, partition names are never reused, and orphaned partitions are taken back.
    /// Order: bloom file, rename active → partition, fsync directories, manifest replace.
    /// A crash between the rename and the manifest leaves an orphan that the next rotation or
    /// recovery takes back; a crash before the rename leaves at most a stray bloom file.
    /// </summary>
    private void RotateLocked()
    {
        MigrateLegacyLocked();
        var manifest = Manifest.Load(ManifestPath) ?? Manifest.Create(Policy(null));
        var policy = Policy(manifest);
        int errno = PathOps.MakeDirectory(PartitionsDir);
        if (errno != 0) throw new PosixException(errno, $"mkdir {PartitionsDir}");   // ELOOP for a planted partitions/ symlink
        TakeBackOrphans(manifest, policy);

        if (!FileStatus.Exists(ActivePath)) return;
        var contents = new List<string>();
        var stats = PartitionStats.Scan(ActivePath, policy, policy.BloomFilters ? contents.Add : null);
        if (stats.Entries == 0) return;

        string stem = UniqueStem(stats.FirstTimestamp, stats.LastTimestamp, manifest);
        string file = $"partitions/{stem}.jsonl";
        string? bloom = policy.BloomFilters ? $"partitions/{stem}.bloom" : null;
        if (bloom is not null) AtomicFile.Write(Path.Combine(Directory, bloom), BloomFilter.Build(contents).ToJson());
        HoldPoint.Hit("rotation-after-bloom", Directory);

        errno = PathOps.Rename(ActivePath, Path.Combine(Directory, file), PathOps.RenameNoReplace);
        if (errno != 0) throw new PosixException(errno, $"rename {ActivePath}");
        CrashPoint.Hit("rotation-after-rename");
        PosixFile.SyncDirectory(PartitionsDir);
        PosixFile.SyncDirectory(Directory);

        ((JsonArray)manifest["partitions"]!).Add(Manifest.Record(
            new PartitionRecord(file, stats.FirstTimestamp, stats.LastTimestamp, stats.Entries, stats.Tokens, bloom, PromptCount(manifest, stats))));
        manifest["active_partition"] = Manifest.ActiveName;
        manifest["rotation_policy"] = policy.ToManifestJson();
        Manifest.Save(ManifestPath, manifest);
        _counters?.Rotated(_context);
        lock (_statsLock) _active = null;
        _policy = null;
    }

    private long? PromptCount(JsonObject manifest, PartitionStats stats) =>
        Manifest.CountsPrompts(manifest, StoreLayout.IsChibi010(_storeRoot)) ? stats.Prompts : null;

    /// <summary>&lt;start&gt;-&lt;end&gt;, or with a -N suffix when a partition or bloom file of that name was ever written.</summary>
    private string UniqueStem(ulong start, ulong end, JsonObject manifest)
    {
        var used = Manifest.Partitions(manifest).Select(p => p.File).ToHashSet(StringComparer.Ordinal);
        for (int n = 0; ; n++)
        {
            string stem = n == 0 ? $"{start}-{end}" : $"{start}-{end}-{n}";
            if (!used.Contains($"partitions/{stem}.jsonl")
                && !FileStatus.Exists(Path.Combine(PartitionsDir, stem + ".jsonl"))
                && !FileStatus.Exists(Path.Combine(PartitionsDir, stem + ".bloom")))
                return stem;
        }
    }

    /// <summary>Partition files the manifest misses (a crash after the rename), in start-time order.</summary>
    public IReadOnlyList<string> Orphans(JsonObject? manifest)
    {
        int errno = PathOps.List(PartitionsDir, out var names);
        if (errno == 2) return [];
        if (errno != 0) throw new PosixException(errno, $"list {PartitionsDir}");   // ELOOP: a planted partitions/ symlink is not listed
        var known = manifest is null ? [] : Manifest.Partitions(manifest).Select(p => p.File).ToHashSet(StringComparer.Ordinal);
        return names.Where(n => n.EndsWith(".jsonl", StringComparison.Ordinal))
            .Select(n => "partitions/" + n)
            .Where(f => !known.Contains(f))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Adds orphans to the manifest at their place by start time; the caller saves it.</summary>
    private void TakeBackOrphans(JsonObject manifest, RotationPolicy policy)
    {
        foreach (var file in Orphans(manifest))
        {
            var contents = new List<string>();
            var stats = PartitionStats.Scan(Path.Combine(Directory, file), policy, contents.Add);
            string bloom = Path.ChangeExtension(file, ".bloom");
            if (!FileStatus.Exists(Path.Combine(Directory, bloom)))
                AtomicFile.Write(Path.Combine(Directory, bloom), BloomFilter.Build(contents).ToJson());
            var record = Manifest.Record(new PartitionRecord(file, stats.FirstTimestamp, stats.LastTimestamp, stats.Entries, stats.Tokens, bloom, PromptCount(manifest, stats)));
            var partitions = (JsonArray)manifest["partitions"]!;
            var list = Manifest.Partitions(manifest);
            int at = list.FindIndex(p => p.StartTs > stats.FirstTimestamp);
            partitions.Insert(at < 0 ? partitions.Count : at, record);
            Console.Error.WriteLine($"vfsmount: {_context}: took back orphaned partition {file}");
        }
    }

    /// <summary>Recovery under the lock: orphans into the manifest. True when it changed anything.</summary>
    public bool Reconcile()
    {
        if (FileStatus.Lstat(Directory, out var dir) != 0 || !dir.IsDirectory) return false;
        using var held = FileLock.Acquire(LockPath);
        var manifest = Manifest.Load(ManifestPath);
        bool changed = false;
        if (Orphans(manifest).Count > 0)
        {
            manifest ??= Manifest.Create(Policy(null));
            TakeBackOrphans(manifest, Policy(manifest));
            changed = true;
        }
        if (manifest is not null)
        {
            var partitions = (JsonArray)manifest["partitions"]!;
            for (int i = partitions.Count - 1; i >= 0; i--)
            {
                var file = partitions[i]?["file"]?.GetValue<string>();
                if (file is null || FileStatus.Exists(Path.Combine(Directory, file))) continue;
                partitions.RemoveAt(i);   // its bytes are gone; chibi skips it too
                changed = true;
            }
            if (changed) Manifest.Save(ManifestPath, manifest);
        }
        if (FileStatus.Exists(ActivePath))
        {
            using var file = PosixFile.OpenOrThrow(ActivePath, PosixFile.ReadWrite | PosixFile.NoFollow);
            long size = file.Length();
            if (LineAppender.MendTornTail(file, ActivePath, _quarantine, _context) != size) changed = true;
        }
        return changed;
    }
}

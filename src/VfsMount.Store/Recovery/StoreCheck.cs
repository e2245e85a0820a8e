using VfsMount.Store.Documents;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Store.Recovery;

/// <summary>
/// Finds what a crash can leave behind — torn tail lines, stray temp files, a manifest that
/// disagrees with the partition files — and, when asked, mends it (SPEC §3). Mounting runs
/// the repair before serving; `vfsmount check` runs it on demand.
/// </summary>
public static class StoreCheck
{
    /// <summary>chibi's temp files younger than this may belong to a chibi at work right now (chibi marks them no other way).</summary>
    private static readonly TimeSpan TempGrace = TimeSpan.FromSeconds(60);

    /// <summary>Returns one line per problem found; with repair, the problems it could not mend.</summary>
    /// <param name="countEntries">Also parse every partition to compare its entries with the manifest:
    /// a report only (repair cannot tell which is right), and the one step whose cost grows with the
    /// whole transcript — mounting leaves it to `vfsmount check`.</param>
    public static List<string> Run(ChibiStore store, bool repair, List<string>? mended = null, bool countEntries = true)
    {
        var problems = new List<string>();
        void Found(string problem, Func<bool>? fix)
        {
            if (repair && fix is not null && fix()) mended?.Add(problem);
            else problems.Add(problem);
        }

        StrayTemps(store.Root, StorePlace.Root, Found);
        foreach (var trash in store.Trash())
            Found($"removed context {trash} is still in the trash", () => PathOps.RemoveTree(trash) == 0);
        foreach (var dir in RealDirectories(store.VfsDir)) StrayTemps(dir, StorePlace.Vfs, Found);   // the mount stages .vfs/ documents there
        foreach (var name in store.ListContexts())
        {
            string dir = store.ContextDir(name);
            StrayTemps(dir, StorePlace.ContextTop, Found);
            CheckTranscript(store, name, Found, countEntries);
            CheckTornTail(store, name, store.Inbox(name).Path, store.Inbox(name).LockPath, Found);
        }
        return problems;
    }

    private static void CheckTranscript(ChibiStore store, string name, Action<string, Func<bool>?> found, bool countEntries)
    {
        var log = store.Transcript(name);
        if (log.IsLinkedOut)
        {
            found($"{name}: transcript/ is not a directory (a symlink?); not followed", null);
            return;
        }
        if (!IsDirectory(log.Directory)) return;
        StrayTemps(log.Directory, StorePlace.Transcript, found);
        if (IsDirectory(log.PartitionsDir)) StrayTemps(log.PartitionsDir, StorePlace.BelowTranscript, found);

        var manifest = Manifest.Load(log.ManifestPath);   // throws on a corrupt manifest: reported as an error
        foreach (var orphan in log.Orphans(manifest))
            found($"{name}: partition {orphan} is missing from the manifest", () => { log.Reconcile(); return true; });
        if (manifest is not null)
        {
            var policy = log.Policy(manifest);
            foreach (var p in Manifest.Partitions(manifest))
            {
                string path = Path.Combine(log.Directory, p.File);
                if (!FileStatus.Exists(path))
                {
                    found($"{name}: manifest lists {p.File}, which does not exist", () => { log.Reconcile(); return true; });
                    continue;
                }
                if (!countEntries) continue;
                long entries = PartitionStats.Scan(path, policy).Entries;
                if (entries != p.EntryCount)
                    found($"{name}: manifest says {p.EntryCount} entries in {p.File}, the file has {entries}", null);
            }
        }
        CheckBlooms(log, name, found);
        CheckTornTail(store, name, log.ActivePath, log.LockPath, found);
    }

    /// <summary>
    /// Bloom files without their partition. Looked for under the transcript lock: a rotation
    /// (ours, chibi's, another daemon's) writes its bloom file before it renames active.jsonl
    /// to the partition, and that bloom file is not an orphan.
    /// </summary>
    private static void CheckBlooms(TranscriptLog log, string name, Action<string, Func<bool>?> found)
    {
        if (!IsDirectory(log.PartitionsDir)) return;
        using var held = FileLock.Acquire(log.LockPath);
        foreach (var bloom in Files(log.PartitionsDir).Where(p => p.EndsWith(".bloom", StringComparison.Ordinal)))
            if (!FileStatus.Exists(Path.ChangeExtension(bloom, ".jsonl")))
                found($"{name}: bloom file {Path.GetFileName(bloom)} has no partition", () => PathOps.Unlink(bloom) == 0);
    }

    private static void CheckTornTail(ChibiStore store, string name, string path, string lockPath, Action<string, Func<bool>?> found)
    {
        if (FileStatus.Lstat(path, out var st) != 0) return;
        // A planted symlink is never followed, neither the log nor its lock (SPEC §3).
        if (!st.IsRegular || (FileStatus.Lstat(lockPath, out var lst) == 0 && !lst.IsRegular))
        {
            found($"{name}: {Path.GetFileName(path)} or its lock is not a regular file (a symlink?); not followed", null);
            return;
        }
        using var held = FileLock.Acquire(lockPath);
        // Gone by the time the lock is ours (a rotation renamed active.jsonl): nothing to mend.
        if (PosixFile.Open(path, PosixFile.ReadWrite | PosixFile.NoFollow, 0, out var opened) == 2) return;
        using var file = opened ?? throw new PosixException(5, path);
        long size = file.Length();
        if (size == 0) return;
        Span<byte> last = stackalloc byte[1];
        if (file.ReadAt(last, size - 1) == 1 && last[0] == (byte)'\n') return;
        found($"{name}: {Path.GetFileName(path)} ends with a torn line", () =>
        {
            LineAppender.MendTornTail(file, path, store.Quarantine, name);
            return true;
        });
    }

    /// <summary>The directory and every directory below it, never through a symlink (a planted one may lead out of the store).</summary>
    private static IEnumerable<string> RealDirectories(string dir)
    {
        if (!IsDirectory(dir)) yield break;
        yield return dir;
        if (PathOps.List(dir, out var names) != 0) yield break;
        foreach (var name in names)
            foreach (var d in RealDirectories(Path.Combine(dir, name)))
                yield return d;
    }

    /// <summary>A real directory, reached beneath the store root (never through a symlink).</summary>
    private static bool IsDirectory(string path) => FileStatus.Lstat(path, out var st) == 0 && st.IsDirectory;

    /// <summary>The paths of the names in dir that are not directories (symlinks and FIFOs included, to be reported or removed).</summary>
    private static IEnumerable<string> Files(string dir) =>
        PathOps.List(dir, out var names) != 0 ? [] : names.Select(n => Path.Combine(dir, n)).Where(p => !IsDirectory(p));

    /// <summary>
    /// The mount's temp files are deleted when no live writer holds their lock (see
    /// <see cref="AtomicFile.CreateHeldTemp"/>), whatever their age; chibi's, which carry no
    /// mark, only once older than the grace. Only their names where they put them: a user's
    /// `notes.tmp.5` beside the documents, or anything in a scratch directory, is not looked at.
    /// </summary>
    private static void StrayTemps(string dir, StorePlace place, Action<string, Func<bool>?> found)
    {
        foreach (var path in Files(dir))
        {
            string file = Path.GetFileName(path);
            if (InternalNames.IsMountTemp(file))
            {
                if (IsHeld(path)) continue;
                found($"stray temp file {path}", () => DeleteUnheld(path));
            }
            else if (InternalNames.IsChibiTemp(place, file) && FileStatus.Lstat(path, out var st) == 0
                     && DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(st.ModifyNs / 1_000_000) >= TempGrace)
                found($"stray temp file {path}", () => PathOps.Unlink(path) == 0);
        }
    }

    /// <summary>Whether a live writer (this process or another) holds the temp file's lock; a non-regular file is never opened.</summary>
    private static bool IsHeld(string path)
    {
        if (FileStatus.Lstat(path, out var st) != 0 || !st.IsRegular) return false;
        using var probe = LockUnheld(path);
        return probe is null;
    }

    /// <summary>The temp file opened with an exclusive flock, or null while someone holds it (or it is gone).</summary>
    private static PosixFile? LockUnheld(string path)
    {
        if (PosixFile.Open(path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file) != 0) return null;
        if (file!.Lock(exclusive: true, nonBlocking: true) == 0) return file;
        file.Dispose();
        return null;
    }

    /// <summary>Deletes the temp file while holding its lock, so no writer can be starting to use it meanwhile.</summary>
    private static bool DeleteUnheld(string path)
    {
        if (FileStatus.Lstat(path, out var st) != 0) return true;
        if (!st.IsRegular) return PathOps.Unlink(path) == 0;
        using var held = LockUnheld(path);
        if (held is null) return FileStatus.Lstat(path, out _) != 0;   // a writer took it since, or it is gone
        return PathOps.Unlink(path) == 0;
    }
}

using System.Text.RegularExpressions;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Store.Recovery;

/// <summary>
/// Finds what a crash can leave behind — torn tail lines, stray temp files, a manifest that
/// disagrees with the partition files — and, when asked, mends it (SPEC §3). Mounting runs
/// the repair before serving; `vfsmount check` runs it on demand.
/// </summary>
public static partial class StoreCheck
{
    /// <summary>chibi's own temp files: the last extension replaced by tmp.&lt;number&gt;.</summary>
    [GeneratedRegex(@"\.tmp\.\d+$")]
    public static partial Regex ChibiTempName();

    /// <summary>Temp files younger than this may belong to a writer at work right now.</summary>
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

        StrayTemps(store.Root, Found);
        foreach (var dir in RealDirectories(store.VfsDir)) StrayTemps(dir, Found);   // the mount stages .vfs/ documents there
        foreach (var name in store.ListContexts())
        {
            string dir = store.ContextDir(name);
            StrayTemps(dir, Found);
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
        if (!Directory.Exists(log.Directory)) return;
        StrayTemps(log.Directory, found);
        if (Directory.Exists(log.PartitionsDir)) StrayTemps(log.PartitionsDir, found);

        var manifest = Manifest.Load(log.ManifestPath);   // throws on a corrupt manifest: reported as an error
        foreach (var orphan in log.Orphans(manifest))
            found($"{name}: partition {orphan} is missing from the manifest", () => { log.Reconcile(); return true; });
        if (manifest is not null)
        {
            var policy = log.Policy(manifest);
            foreach (var p in Manifest.Partitions(manifest))
            {
                string path = Path.Combine(log.Directory, p.File);
                if (!File.Exists(path))
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
        if (Directory.Exists(log.PartitionsDir))
            foreach (var bloom in Directory.GetFiles(log.PartitionsDir, "*.bloom"))
                if (!File.Exists(Path.ChangeExtension(bloom, ".jsonl")))
                    found($"{name}: bloom file {Path.GetFileName(bloom)} has no partition", () => { File.Delete(bloom); return true; });
        CheckTornTail(store, name, log.ActivePath, log.LockPath, found);
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
        using var file = PosixFile.OpenOrThrow(path, PosixFile.ReadWrite | PosixFile.NoFollow);
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
        if (FileStatus.Lstat(dir, out var st) != 0 || !st.IsDirectory) yield break;
        yield return dir;
        foreach (var sub in Directory.EnumerateDirectories(dir))
            foreach (var d in RealDirectories(sub))
                yield return d;
    }

    private static void StrayTemps(string dir, Action<string, Func<bool>?> found)
    {
        foreach (var path in Directory.EnumerateFiles(dir))
        {
            string file = Path.GetFileName(path);
            bool ours = file.StartsWith(AtomicFile.TempPrefix, StringComparison.Ordinal);
            if (!ours && !ChibiTempName().IsMatch(file)) continue;
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) < TempGrace) continue;
            found($"stray temp file {path}", () => { File.Delete(path); return true; });
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using VfsMount.Store.Contexts;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Store;

/// <summary>
/// A chibi data directory: its contexts, their logs and documents. Everything that knows
/// chibi's on-disk format is reached from here; nothing here knows about FUSE.
/// </summary>
public sealed class ChibiStore
{
    private readonly ConcurrentDictionary<string, TranscriptLog> _transcripts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, InboxLog> _inboxes = new(StringComparer.Ordinal);

    public ChibiStore(string root, StorageOptions? options = null)
    {
        Root = Path.GetFullPath(root);
        Options = options ?? StorageOptions.None;
        Directory.CreateDirectory(ContextsDir);
        StoreRoot = StoreRoot.Open(Root);
        Quarantine = new Quarantine(Path.Combine(Root, ".vfsmount", "quarantine"), counters: Counters);
    }

    /// <summary>$CHIBI_HOME, else ~/.chibi.</summary>
    public static string DefaultRoot() =>
        Environment.GetEnvironmentVariable("CHIBI_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".chibi");

    public string Root { get; }

    /// <summary>
    /// The root directory opened once: every store path under <see cref="Root"/> that
    /// PosixFile, FileStatus and PathOps meet resolves beneath it from now on (SPEC §3).
    /// </summary>
    public StoreRoot StoreRoot { get; }
    public StorageOptions Options { get; }
    public Quarantine Quarantine { get; }

    /// <summary>What this process did to the store since it opened it (the mount's status.json).</summary>
    public MountCounters Counters { get; } = new();
    public string ContextsDir => Path.Combine(Root, "contexts");
    public string StatePath => Path.Combine(Root, "state.json");
    /// <summary>chibi 0.10's CLI session (implied and previous context); absent in older stores.</summary>
    public string SessionPath => Path.Combine(Root, StoreLayout.SessionName);
    /// <summary>chibi 0.10's shared virtual filesystem (tasks, goals, prompts, flocks); absent in older stores.</summary>
    public string VfsDir => Path.Combine(Root, StoreLayout.VfsName);
    public bool IsChibi010 => StoreLayout.IsChibi010(Root);

    public string ContextDir(string name) => Path.Combine(ContextsDir, name);

    /// <summary>A context is a real directory (not a symlink) with a valid name under contexts/.</summary>
    /// <remarks>
    /// Asked by nearly every request: one statx relative to the root descriptor, not an openat2
    /// beneath it, a stat and a close. The context's own name is never followed (a symlink there is
    /// no context); whatever is opened in it afterwards is resolved beneath the root as ever.
    /// </remarks>
    public bool ContextExists(string name) =>
        ContextName.IsValid(name) && StoreRoot.StatRelative(StoreRoot.RelativeZ(ContextDir(name)), out var st) == 0 && st.IsDirectory;

    public IReadOnlyList<string> ListContexts() =>
        PathOps.List(ContextsDir, out var names) != 0 ? [] : names.Where(ContextExists).Order(StringComparer.Ordinal).ToList();

    public TranscriptLog Transcript(string context) =>
        _transcripts.GetOrAdd(context, c => new TranscriptLog(ContextDir(c), c, Root, Options, Quarantine, Counters));

    public InboxLog Inbox(string context) =>
        _inboxes.GetOrAdd(context, c => new InboxLog(ContextDir(c), c, Quarantine));

    public TextLog TextLog(string context) => new(ContextDir(context), context);

    /// <summary>As chibi: the directory, a context_created anchor, a state.json record.</summary>
    /// <param name="cwd">The creating process's working directory, recorded where chibi 0.10 records it.</param>
    public void CreateContext(string name, string? cwd = null)
    {
        int errno = ContextName.Check(name);
        if (errno != 0) throw new StoreException(errno, $"invalid context name \"{name}\"");
        StateFile.Load(StatePath);   // a planted state.json (symlink, FIFO) refuses before anything is made
        // mkdir(2) itself decides between two creators of one name: exactly one gets the directory (and writes the anchor).
        int made = PathOps.Mkdir(ContextDir(name), 0x1FF);
        if (made == 17) throw new StoreException(17, $"context \"{name}\" exists");
        if (made != 0) throw new PosixException(made, $"mkdir {ContextDir(name)}");
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var anchor = new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["timestamp"] = now,
            ["from"] = "system",
            ["to"] = name,
            ["content"] = "Context created",
            ["entry_type"] = "context_created",
        };
        Transcript(name).Append([EntryCompleter.Transcript(JsonFormat.ToCompact(anchor), name, "system", (ulong)now)], markDirty: false);
        PosixFile.SyncDirectory(ContextsDir);
        bool chibi010 = IsChibi010;
        StateFile.Update(StatePath, state =>
        {
            if (StateFile.IndexOf(state, name) < 0) ((JsonArray)state["contexts"]!).Add(StateFile.Record(name, now, chibi010 ? cwd : null));
        }, chibi010);
    }

    /// <summary>
    /// EEXIST when the target exists, EBUSY while chibi holds the context's lock. The directory
    /// moves under the transcript and inbox locks, so no append is between its write and its
    /// fsync when it moves (it would fail after its line was durable, and its writer's retry
    /// would append it twice); an append waiting for a lock meanwhile fails with ENOENT.
    /// </summary>
    public void RenameContext(string from, string to)
    {
        int errno = ContextName.Check(to);
        if (errno != 0) throw new StoreException(errno, $"invalid context name \"{to}\"");
        if (!ContextExists(from)) throw new StoreException(2, $"no context \"{from}\"");
        if (IsHeldByChibi(from)) throw new StoreException(16, $"chibi holds context \"{from}\" (.lock is fresh)");
        using (LockLogs(from))
        {
            errno = PathOps.Rename(ContextDir(from), ContextDir(to), PathOps.RenameNoReplace);
            if (errno is 17 or 39) throw new StoreException(17, $"context \"{to}\" exists");
            if (errno != 0) throw new PosixException(errno, $"rename {ContextDir(from)}");
            Forget(from);
        }
        PosixFile.SyncDirectory(ContextsDir);
        StateFile.Update(StatePath, state =>
        {
            int i = StateFile.IndexOf(state, from);
            if (i >= 0) state["contexts"]![i]!["name"] = to;
            else ((JsonArray)state["contexts"]!).Add(StateFile.Record(to, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
            if (state["current_context"]?.GetValue<string>() == from) state["current_context"] = to;
        }, IsChibi010);
        RenameInSession(from, to);
    }

    /// <summary>chibi 0.10 keeps the current and previous context in session.json: they follow a rename as state.json's do.</summary>
    private void RenameInSession(string from, string to)
    {
        JsonObject? session;
        if (PosixFile.ReadAll(SessionPath, out byte[] bytes) != 0) return;   // none, or planted (not followed, logged)
        try
        {
            session = JsonNode.Parse(bytes) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return;   // one chibi resets anyway
        }
        bool changed = false;
        foreach (var key in (string[])["implied_context", "previous_context"])
        {
            if (session?[key] is JsonValue v && v.TryGetValue<string>(out var name) && name == from)
            {
                session[key] = to;
                changed = true;
            }
        }
        if (changed) Documents.AtomicFile.Write(SessionPath, JsonFormat.ToPretty(session!));
    }

    /// <summary>
    /// Removes a context whose transcript holds nothing beyond its anchor (else ENOTEMPTY). The
    /// entries are counted under the transcript and inbox locks, and the directory leaves
    /// contexts/ under them, by one rename to a trash name: an append acknowledged by anyone is
    /// never deleted, and a crash leaves the context whole or in the trash, never half-deleted
    /// (recovery empties the trash).
    /// </summary>
    public void RemoveContext(string name)
    {
        if (!ContextExists(name)) throw new StoreException(2, $"no context \"{name}\"");
        if (IsHeldByChibi(name)) throw new StoreException(16, $"chibi holds context \"{name}\"");
        string trash = Path.Combine(ContextsDir, TrashPrefix + Guid.NewGuid().ToString("N"));
        using (LockLogs(name))
        {
            RefuseEntriesBeyondAnchor(name, Transcript(name));
            HoldPoint.Hit("remove-context-counted", ContextDir(name));
            int errno = PathOps.Rename(ContextDir(name), trash, PathOps.RenameNoReplace);
            if (errno != 0) throw new PosixException(errno, $"rename {ContextDir(name)} to the trash");
            Forget(name);
        }
        PosixFile.SyncDirectory(ContextsDir);
        CrashPoint.Hit("rmdir-after-trash");
        int removed = PathOps.RemoveTree(trash);
        if (removed != 0) throw new PosixException(removed, $"remove {trash}");
        StateFile.Update(StatePath, state =>
        {
            int i = StateFile.IndexOf(state, name);
            if (i >= 0) ((JsonArray)state["contexts"]!).RemoveAt(i);
        }, IsChibi010);   // a 0.10 store's state.json gets no current_context
    }

    /// <summary>
    /// Prefix of a removed context on its way out: not a valid context name (chibi and the view
    /// skip it), in contexts/ itself so the rename never crosses a filesystem; without the
    /// context's name, which may already use all of NAME_MAX.
    /// </summary>
    public const string TrashPrefix = ".vfsmount-trash-";

    /// <summary>Removed contexts a crash left in the trash: their removal was decided (and checked) already.</summary>
    public IEnumerable<string> Trash() =>
        PathOps.List(ContextsDir, out var names) != 0 ? [] : names.Where(n => n.StartsWith(TrashPrefix, StringComparison.Ordinal)).Select(ContextDir);

    /// <summary>The context's transcript lock, then its inbox lock (always in this order), as chibi's appends take them.</summary>
    private Locks LockLogs(string name)
    {
        var transcript = Transcript(name);
        // A context made by another program may lack transcript/: made here (never the context itself) so its lock exists.
        int errno = PathOps.Mkdir(transcript.Directory, 0x1FF);
        if (errno is not (0 or 17)) throw new PosixException(errno, $"mkdir {transcript.Directory}");
        var held = FileLock.Acquire(transcript.LockPath);
        try
        {
            return new Locks(held, FileLock.Acquire(Inbox(name).LockPath));
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    private sealed class Locks(FileLock transcript, FileLock inbox) : IDisposable
    {
        public void Dispose()
        {
            inbox.Dispose();
            transcript.Dispose();
        }
    }

    private void Forget(string name)
    {
        if (_transcripts.TryRemove(name, out var transcript)) transcript.Retire();   // its held descriptors are of the moved directory
        if (_inboxes.TryRemove(name, out var inbox)) inbox.Retire();
    }

    /// <summary>ENOTEMPTY unless the transcript holds at most its context_created anchor; the caller holds the transcript lock.</summary>
    private static void RefuseEntriesBeyondAnchor(string name, TranscriptLog transcript)
    {
        var manifest = Manifest.Load(transcript.ManifestPath);
        if (transcript.Orphans(manifest).Count > 0)
            throw new StoreException(39, $"context \"{name}\" has partitions its manifest misses");
        long entries = manifest is null ? 0 : Manifest.Partitions(manifest).Sum(p => p.EntryCount);
        foreach (var path in (string[])[transcript.LegacyPath, transcript.ActivePath])
            if (FileStatus.Lstat(path, out var st) == 0 && st.IsRegular) entries += PartitionStats.Scan(path, RotationPolicy.Default).Entries;
        if (entries > 1) throw new StoreException(39, $"context \"{name}\" has {entries - 1} entries beyond its anchor");
        if (entries == 1 && !SoleEntryIsAnchor(transcript, manifest))
            throw new StoreException(39, $"context \"{name}\" has an entry beyond its anchor (it has no context_created anchor)");
    }

    /// <summary>Whether the one entry of a transcript is a context_created anchor (a context made by hand may have none).</summary>
    private static bool SoleEntryIsAnchor(TranscriptLog transcript, JsonObject? manifest)
    {
        var files = (manifest is null ? [transcript.LegacyPath] : Manifest.Partitions(manifest).Select(p => Path.Combine(transcript.Directory, p.File)))
            .Append(transcript.ActivePath);
        foreach (var path in files)
        {
            if (PosixFile.Open(path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file) != 0) continue;
            using (file)
            {
                foreach (var (line, _) in PartitionStats.Lines(file!, 0))
                {
                    if (EntryCompleter.Inspect(line.Span) is null) continue;
                    var entry = JsonNode.Parse(line.Span) as JsonObject;
                    return entry?["entry_type"] is JsonValue v && v.TryGetValue<string>(out var type) && type == "context_created";
                }
            }
        }
        return true;
    }

    /// <summary>chibi's .lock is held while it is fresh: readable and younger than 1.5 × the 30 s heartbeat.</summary>
    public bool IsHeldByChibi(string name)
    {
        // A planted .lock (symlink, FIFO) is not read or waited on: refused (logged), so is what needed to know.
        string path = Path.Combine(ContextDir(name), ".lock");
        int errno = PosixFile.ReadAll(path, out byte[] bytes);
        if (errno == 2) return false;
        if (errno != 0) throw new PosixException(errno, $"read {path}");
        string text = System.Text.Encoding.UTF8.GetString(bytes).Trim();
        return long.TryParse(text, out long at) && DateTimeOffset.UtcNow.ToUnixTimeSeconds() - at < 45;
    }
}

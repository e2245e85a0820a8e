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
        Quarantine = new Quarantine(Path.Combine(Root, ".vfsmount", "quarantine"), counters: Counters);
    }

    /// <summary>$CHIBI_HOME, else ~/.chibi.</summary>
    public static string DefaultRoot() =>
        Environment.GetEnvironmentVariable("CHIBI_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".chibi");

    public string Root { get; }
    public StorageOptions Options { get; }
    public Quarantine Quarantine { get; }

    /// <summary>What this process did to the store since it opened it (the mount's status.json).</summary>
    public MountCounters Counters { get; } = new();
    public string ContextsDir => Path.Combine(Root, "contexts");
    public string StatePath => Path.Combine(Root, "state.json");

    public string ContextDir(string name) => Path.Combine(ContextsDir, name);

    /// <summary>A context is a real directory (not a symlink) with a valid name under contexts/.</summary>
    public bool ContextExists(string name) =>
        ContextName.IsValid(name) && FileStatus.Lstat(ContextDir(name), out var st) == 0 && st.IsDirectory;

    public IReadOnlyList<string> ListContexts() =>
        Directory.EnumerateDirectories(ContextsDir)
            .Select(Path.GetFileName)
            .Where(n => n is not null && ContextExists(n))
            .Order(StringComparer.Ordinal)
            .ToList()!;

    public TranscriptLog Transcript(string context) =>
        _transcripts.GetOrAdd(context, c => new TranscriptLog(ContextDir(c), c, Root, Options, Quarantine, Counters));

    public InboxLog Inbox(string context) =>
        _inboxes.GetOrAdd(context, c => new InboxLog(ContextDir(c), c, Quarantine));

    /// <summary>As chibi: the directory, a context_created anchor, a state.json record.</summary>
    public void CreateContext(string name)
    {
        int errno = ContextName.Check(name);
        if (errno != 0) throw new StoreException(errno, $"invalid context name \"{name}\"");
        string dir = ContextDir(name);
        if (FileStatus.Lstat(dir, out _) == 0) throw new StoreException(17, $"context \"{name}\" exists");
        Directory.CreateDirectory(dir);
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
        Transcript(name).Append([EntryCompleter.Transcript(JsonFormat.ToCompact(anchor), name, "system", (ulong)now)]);
        PosixFile.SyncDirectory(ContextsDir);
        StateFile.Update(StatePath, state =>
        {
            if (StateFile.IndexOf(state, name) < 0) ((JsonArray)state["contexts"]!).Add(StateFile.Record(name, now));
        });
    }

    /// <summary>EEXIST when the target exists, EBUSY while chibi holds the context's lock.</summary>
    public void RenameContext(string from, string to)
    {
        int errno = ContextName.Check(to);
        if (errno != 0) throw new StoreException(errno, $"invalid context name \"{to}\"");
        if (!ContextExists(from)) throw new StoreException(2, $"no context \"{from}\"");
        if (FileStatus.Lstat(ContextDir(to), out _) == 0) throw new StoreException(17, $"context \"{to}\" exists");
        if (IsHeldByChibi(from)) throw new StoreException(16, $"chibi holds context \"{from}\" (.lock is fresh)");
        Directory.Move(ContextDir(from), ContextDir(to));
        _transcripts.TryRemove(from, out _);
        _inboxes.TryRemove(from, out _);
        PosixFile.SyncDirectory(ContextsDir);
        StateFile.Update(StatePath, state =>
        {
            int i = StateFile.IndexOf(state, from);
            if (i >= 0) state["contexts"]![i]!["name"] = to;
            else ((JsonArray)state["contexts"]!).Add(StateFile.Record(to, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
            if (state["current_context"]?.GetValue<string>() == from) state["current_context"] = to;
        });
    }

    /// <summary>Removes a context whose transcript holds nothing beyond its anchor (else ENOTEMPTY).</summary>
    public void RemoveContext(string name)
    {
        if (!ContextExists(name)) throw new StoreException(2, $"no context \"{name}\"");
        if (IsHeldByChibi(name)) throw new StoreException(16, $"chibi holds context \"{name}\"");
        var transcript = Transcript(name);
        var manifest = Manifest.Load(transcript.ManifestPath);
        long entries = manifest is null ? 0 : Manifest.Partitions(manifest).Sum(p => p.EntryCount);
        if (File.Exists(transcript.ActivePath))
            entries += PartitionStats.Scan(transcript.ActivePath, RotationPolicy.Default).Entries;
        if (entries > 1) throw new StoreException(39, $"context \"{name}\" has {entries - 1} entries beyond its anchor");
        if (entries == 1 && !SoleEntryIsAnchor(transcript, manifest))
            throw new StoreException(39, $"context \"{name}\" has an entry beyond its anchor (it has no context_created anchor)");
        Directory.Delete(ContextDir(name), recursive: true);
        _transcripts.TryRemove(name, out _);
        _inboxes.TryRemove(name, out _);
        PosixFile.SyncDirectory(ContextsDir);
        StateFile.Update(StatePath, state =>
        {
            int i = StateFile.IndexOf(state, name);
            if (i >= 0) ((JsonArray)state["contexts"]!).RemoveAt(i);
        });
    }

    /// <summary>Whether the one entry of a transcript is a context_created anchor (a context made by hand may have none).</summary>
    private static bool SoleEntryIsAnchor(TranscriptLog transcript, JsonObject? manifest)
    {
        var files = (manifest is null ? [] : Manifest.Partitions(manifest).Select(p => Path.Combine(transcript.Directory, p.File)))
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
        try
        {
            string text = File.ReadAllText(Path.Combine(ContextDir(name), ".lock")).Trim();
            return long.TryParse(text, out long at) && DateTimeOffset.UtcNow.ToUnixTimeSeconds() - at < 45;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

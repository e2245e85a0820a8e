using VfsMount.Store;
using VfsMount.Store.Contexts;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>Maps mount paths to node kinds and store paths: the layout of SPEC §2 in one place.</summary>
public sealed class PathMap(ChibiStore store)
{
    private static readonly Dictionary<string, DocumentFormat> Documents = new(StringComparer.Ordinal)
    {
        ["summary.md"] = DocumentFormat.Text,
        ["todos.md"] = DocumentFormat.Text,
        ["goals.md"] = DocumentFormat.Text,
        ["reflection.md"] = DocumentFormat.Text,
        ["system_prompt.md"] = DocumentFormat.Text,
        ["context.jsonl"] = DocumentFormat.JsonLines,
        ["context_meta.json"] = DocumentFormat.JsonObject,
        ["local.toml"] = DocumentFormat.Toml,
    };

    public const string TranscriptName = "transcript.jsonl";
    public const string InboxName = "inbox.jsonl";
    public const string TextLogName = "transcript.md";
    public const string TranscriptDirName = "transcript";
    /// <summary>Where STORE/vfs/ shows: a name no context can have.</summary>
    public const string VfsName = ".vfs";

    /// <summary>Names every context directory shows, whether or not a file backs them yet.</summary>
    public static readonly string[] AlwaysListed = [TranscriptName, InboxName, TextLogName];

    public Node Resolve(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return new Node(NodeKind.Root, null, store.Root);
        string context = parts[0];
        if (context == VfsName) return ResolveVfs(parts);
        if (parts.Length == 1)
        {
            if (context == "state.json") return new Node(NodeKind.Document, null, store.StatePath, DocumentFormat.JsonObject);
            if (context == StoreLayout.SessionName)   // chibi 0.10's: shown (and writable) only where the store has one
                return FileStatus.Lstat(store.SessionPath, out _) == 0
                    ? new Node(NodeKind.Document, null, store.SessionPath, DocumentFormat.JsonObject)
                    : new Node(NodeKind.Invalid, null, null);
            return ContextName.IsValid(context)
                ? new Node(NodeKind.Context, context, store.ContextDir(context))
                : new Node(NodeKind.Invalid, null, null);
        }
        if (!ContextName.IsValid(context)) return new Node(NodeKind.Invalid, null, null);

        string dir = store.ContextDir(context);
        string name = parts[1];
        string storePath = Path.Combine(dir, Path.Combine(parts[1..]));
        string last = parts[^1];
        if (name == TranscriptDirName)
            return new Node(parts.Length > 2 && InternalNames.IsInternal(PlaceOf(parts[..^1]), last) ? NodeKind.Hidden : NodeKind.ReadOnly, context, storePath);
        if (parts.Length > 2) return new Node(NodeKind.Scratch, context, storePath);   // a scratch directory: every name the user's
        if (InternalNames.IsInternal(StorePlace.ContextTop, name)) return new Node(NodeKind.Hidden, context, storePath);
        return name switch
        {
            TranscriptName => new Node(NodeKind.TranscriptLog, context, null),
            InboxName => new Node(NodeKind.InboxLog, context, storePath),
            TextLogName => new Node(NodeKind.TextLog, context, storePath),
            _ when Documents.TryGetValue(name, out var format) => new Node(NodeKind.Document, context, storePath, format),
            _ => new Node(NodeKind.Scratch, context, storePath),
        };
    }

    /// <summary>.vfs/…: nothing without STORE/vfs/; a directory there is a directory, any other name a document.</summary>
    private Node ResolveVfs(string[] parts)
    {
        if (!HasVfs) return new Node(NodeKind.Invalid, null, null);
        string storePath = Path.Combine(store.VfsDir, Path.Combine(parts[1..]));
        if (parts.Length == 1) return new Node(NodeKind.VfsDirectory, null, storePath, Vfs: true);
        string last = parts[^1];
        if (InternalNames.IsInternal(StorePlace.Vfs, last)) return new Node(NodeKind.Hidden, null, storePath, Vfs: true);
        if (FileStatus.Lstat(storePath, out var st) == 0 && st.IsDirectory) return new Node(NodeKind.VfsDirectory, null, storePath, Vfs: true);
        var format = IsEditorFile(last) ? DocumentFormat.Opaque
            : last.EndsWith(".json", StringComparison.Ordinal) ? DocumentFormat.Json : DocumentFormat.Text;
        return new Node(NodeKind.Document, null, storePath, format, Vfs: true);
    }

    /// <summary>
    /// vim's swap files (.NAME.swp …) and write probe (4913) hold binary state, not chibi's values:
    /// refusing them as text would make every vim save in .vfs/ fail. Committed atomically, unchecked.
    /// </summary>
    private static bool IsEditorFile(string name) =>
        name == "4913" || (name.StartsWith('.') && name.Length > 4 && name[^4..^1] == ".sw" && name[^1] is >= 'a' and <= 'z');

    public bool HasVfs => FileStatus.Lstat(store.VfsDir, out var st) == 0 && st.IsDirectory;

    /// <summary>The mount path of a store file the view shows (for the kernel's cache).</summary>
    public string MountPathOf(string storePath) =>
        storePath.StartsWith(store.ContextsDir + "/", StringComparison.Ordinal) ? "/" + Path.GetRelativePath(store.ContextsDir, storePath)
        : storePath.StartsWith(store.VfsDir + "/", StringComparison.Ordinal) ? $"/{VfsName}/" + Path.GetRelativePath(store.VfsDir, storePath)
        : "/" + Path.GetFileName(storePath);

    /// <summary>Files chibi itself keeps in a context directory (removed with the context).</summary>
    public static bool IsChibiFile(string name) =>
        Documents.ContainsKey(name) || name is InboxName or TextLogName or "tool_cache";

    /// <summary>
    /// Where a directory of the mount is in the store, for <see cref="InternalNames.IsInternal"/>:
    /// the parts of its mount path (none for the root).
    /// </summary>
    public static StorePlace PlaceOf(ReadOnlySpan<string> parts) => parts switch
    {
        [] => StorePlace.Root,
        [VfsName, ..] => StorePlace.Vfs,
        [_] => StorePlace.ContextTop,
        [_, TranscriptDirName] => StorePlace.Transcript,
        [_, TranscriptDirName, ..] => StorePlace.BelowTranscript,
        _ => StorePlace.Scratch,
    };
}

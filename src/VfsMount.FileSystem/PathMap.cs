using VfsMount.FileSystem.Nodes;
using VfsMount.Store;
using VfsMount.Store.Contexts;
using VfsMount.Store.Documents;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>Maps mount paths to node kinds and store paths: the layout of SPEC §2 in one place.</summary>
public sealed class PathMap
{
    private readonly ViewServices view;

    internal PathMap(ViewServices view) => this.view = view;

    private ChibiStore Store => view.Store;

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

    /// <summary>What the mount path is: a node of its kind, with the store file behind it.</summary>
    internal VfsNode Resolve(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return new RootNode(view);
        string context = parts[0];
        if (context == VfsName) return ResolveVfs(path, parts);
        if (parts.Length == 1)
        {
            if (context == "state.json") return new DocumentNode(view, path, null, Store.StatePath, DocumentFormat.JsonObject);
            if (context == StoreLayout.SessionName)   // chibi 0.10's: shown (and writable) only where the store has one
                return FileStatus.Lstat(Store.SessionPath, out _) == 0
                    ? new DocumentNode(view, path, null, Store.SessionPath, DocumentFormat.JsonObject)
                    : new InvalidNode(view, path, atTop: true);
            return ContextName.IsValid(context) ? new ContextNode(view, path, context) : new InvalidNode(view, path, atTop: true);
        }
        if (!ContextName.IsValid(context)) return new InvalidNode(view, path, atTop: false);

        string name = parts[1];
        string storePath = Path.Combine(Store.ContextDir(context), Path.Combine(parts[1..]));
        string last = parts[^1];
        if (name == TranscriptDirName)
            return parts.Length > 2 && InternalNames.IsInternal(PlaceOf(parts[..^1]), last)
                ? new InternalNode(view, path, context, storePath) : new PartitionNode(view, path, context, storePath);
        if (parts.Length > 2) return new ScratchNode(view, path, context, storePath);   // a scratch directory: every name the user's
        if (InternalNames.IsInternal(StorePlace.ContextTop, name)) return new InternalNode(view, path, context, storePath);
        return name switch
        {
            TranscriptName => new TranscriptNode(view, path, context),
            InboxName => new PlainLogNode(view, path, context, storePath, inbox: true),
            TextLogName => new PlainLogNode(view, path, context, storePath, inbox: false),
            _ when Documents.TryGetValue(name, out var format) => new DocumentNode(view, path, context, storePath, format),
            _ => new ScratchNode(view, path, context, storePath),
        };
    }

    /// <summary>.vfs/…: nothing without STORE/vfs/; a directory there is a directory, any other name a document.</summary>
    private VfsNode ResolveVfs(string path, string[] parts)
    {
        if (!HasVfs) return new InvalidNode(view, path, atTop: parts.Length == 1);   // mkdir .vfs: the store says why no context has that name
        string storePath = Path.Combine(Store.VfsDir, Path.Combine(parts[1..]));
        if (parts.Length == 1) return new VfsDirectoryNode(view, path, storePath);
        string last = parts[^1];
        if (InternalNames.IsInternal(StorePlace.Vfs, last)) return new InternalNode(view, path, null, storePath, vfs: true);
        if (FileStatus.Lstat(storePath, out var st) == 0 && st.IsDirectory) return new VfsDirectoryNode(view, path, storePath);
        var format = IsEditorFile(last) ? DocumentFormat.Opaque
            : last.EndsWith(".json", StringComparison.Ordinal) ? DocumentFormat.Json : DocumentFormat.Text;
        return new DocumentNode(view, path, null, storePath, format, vfs: true);
    }

    /// <summary>
    /// vim's swap files (.NAME.swp …) and write probe (4913) hold binary state, not chibi's values:
    /// refusing them as text would make every vim save in .vfs/ fail. Committed atomically, unchecked.
    /// </summary>
    private static bool IsEditorFile(string name) =>
        name == "4913" || (name.StartsWith('.') && name.Length > 4 && name[^4..^1] == ".sw" && name[^1] is >= 'a' and <= 'z');

    internal bool HasVfs => FileStatus.Lstat(Store.VfsDir, out var st) == 0 && st.IsDirectory;

    /// <summary>The mount path of a store file the view shows (for the kernel's cache).</summary>
    internal string MountPathOf(string storePath) =>
        storePath.StartsWith(Store.ContextsDir + "/", StringComparison.Ordinal) ? "/" + Path.GetRelativePath(Store.ContextsDir, storePath)
        : storePath.StartsWith(Store.VfsDir + "/", StringComparison.Ordinal) ? $"/{VfsName}/" + Path.GetRelativePath(Store.VfsDir, storePath)
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

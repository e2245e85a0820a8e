using VfsMount.Store.Documents;

namespace VfsMount.FileSystem;

/// <summary>What a name of the mount is; each kind owns its semantics (SPEC §2).</summary>
public enum NodeKind
{
    Root,
    Context,
    TranscriptLog,
    InboxLog,
    TextLog,
    Document,
    ReadOnly,
    Scratch,
    /// <summary>Internal files (locks, temp files): never listed, never opened.</summary>
    Hidden,
    /// <summary>A root-level name that is not a valid context and not state.json.</summary>
    Invalid,
    /// <summary>A directory of chibi 0.10's shared VFS (.vfs/ and below): an ordinary directory.</summary>
    VfsDirectory,
}

/// <summary>A mount path resolved to its kind and the store path behind it.</summary>
/// <param name="Vfs">Under .vfs/ (chibi 0.10's STORE/vfs/): every regular file a document, directories ordinary.</param>
public readonly record struct Node(NodeKind Kind, string? Context, string? StorePath, DocumentFormat Format = DocumentFormat.Text, bool Vfs = false)
{
    public bool IsLog => Kind is NodeKind.TranscriptLog or NodeKind.InboxLog or NodeKind.TextLog;

    /// <summary>What a refusal's log line and quarantine name it by: the context, ".vfs", or "" at the top.</summary>
    public string Label => Vfs ? PathMap.VfsName : Context ?? "";

    /// <summary>The rest of its mount path after <see cref="Label"/> ("sub/file" of "/ctx/sub/file"): a refusal names the whole path.</summary>
    public string NameIn(string mountPath)
    {
        string rel = mountPath.TrimStart('/');
        return Label.Length > 0 && rel.StartsWith(Label + "/", StringComparison.Ordinal) ? rel[(Label.Length + 1)..] : rel;
    }
}

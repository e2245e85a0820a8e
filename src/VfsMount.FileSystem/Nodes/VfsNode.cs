using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>
/// A name of the mount resolved to what it is (SPEC §2): one class per kind, each answering the
/// operations it has a capability for (Capabilities.cs) and nothing else.
/// </summary>
/// <param name="path">Its mount path ("/ctx/summary.md"): what refusals and change notices name.</param>
/// <param name="context">The context it is in, if any.</param>
/// <param name="storePath">The store file behind it, if any.</param>
internal abstract class VfsNode(ViewServices view, string path, string? context, string? storePath)
{
    protected ViewServices View { get; } = view;

    public string MountPath { get; } = path;
    public string? Context { get; } = context;
    public string? StorePath { get; } = storePath;

    /// <summary>Under .vfs/ (chibi 0.10's STORE/vfs/).</summary>
    public virtual bool Vfs => false;

    /// <summary>What a refusal's log line and quarantine name it by: the context, ".vfs", or "" at the top.</summary>
    public string Label => Vfs ? PathMap.VfsName : Context ?? "";

    /// <summary>The rest of its mount path after <see cref="Label"/> ("sub/file" of "/ctx/sub/file"): a refusal names the whole path.</summary>
    public string NameInLabel
    {
        get
        {
            string rel = MountPath.TrimStart('/');
            return Label.Length > 0 && rel.StartsWith(Label + "/", StringComparison.Ordinal) ? rel[(Label.Length + 1)..] : rel;
        }
    }

    /// <summary>0 when the node can be used: not internal, in a context that exists, through no symlink.</summary>
    public virtual int Reachable() => Context is not null && !View.Store.ContextExists(Context) ? Errno.ENOENT : 0;

    /// <summary>stat(2) of the name; called once <see cref="Reachable"/>.</summary>
    public abstract int GetAttr(out FileAttr attr);

    /// <summary>What symlink, mknod and link answer where only scratch may have new entries.</summary>
    public virtual int RefuseNewEntry() => Errno.EEXIST;

    /// <summary>Refuses an operation on this name: counted, logged in one line, content quarantined.</summary>
    public int Refuse(int errno, string reason, byte[]? content = null) =>
        View.Refusals.Refuse(Label, NameInLabel, errno, reason, content);

    /// <summary>
    /// A FIFO, socket or device where the store keeps a document or a log (SPEC §3): EIO, logged.
    /// Presented as what it is, the kernel would open it itself and a reader would block.
    /// </summary>
    protected int Planted(in FileStatus st) =>
        Refuse(Errno.EIO, $"{StorePath}: a {Attrs.KindOf(st).ToString().ToLowerInvariant()} where the store keeps a regular file; not opened");

    /// <summary>The daemon never follows a symlink out of the store: every directory from <paramref name="dir"/> on the way must be real.</summary>
    protected int PathOk(string dir)
    {
        string rel = Path.GetRelativePath(dir, StorePath!);
        var parts = rel.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            dir = Path.Combine(dir, parts[i]);
            if (FileStatus.Lstat(dir, out var st) != 0) return Errno.ENOENT;
            if (!st.IsDirectory) return st.IsSymlink ? Errno.ELOOP : Errno.ENOTDIR;
        }
        return 0;
    }

    /// <summary>
    /// Every entry of a store directory, or errno. Listed through a descriptor opened beneath the
    /// store root: a directory swapped for a symlink is ELOOP, never a listing of somewhere else.
    /// </summary>
    protected static int ListAll(string dir, out List<DirEntry> all)
    {
        all = [];
        PosixFile? opened = null;
        if (StoreRoot.For(dir) is { } root && root.OpenDirectory(dir, out opened) is var errno and not 0) return errno;
        using (opened)
        {
            foreach (var info in new DirectoryInfo(opened is null ? dir : $"/proc/self/fd/{opened.Descriptor}").EnumerateFileSystemInfos())
            {
                var kind = info.LinkTarget is not null ? FileKind.Symlink
                    : info is DirectoryInfo ? FileKind.Directory : FileKind.Regular;
                all.Add(new DirEntry(info.Name, kind));
            }
        }
        return 0;
    }

    /// <summary>Lists a store directory's names the view shows (internal names and <paramref name="skip"/> left out).</summary>
    protected static int ListStoreDir(StorePlace place, string dir, List<DirEntry> entries, string[] skip)
    {
        int errno = ListAll(dir, out var all);
        if (errno != 0) return errno;
        entries.AddRange(all.Where(e => !InternalNames.IsInternal(place, e.Name) && !skip.Contains(e.Name)));
        return 0;
    }

    /// <summary>A listed directory: its own listing (ENOENT when gone, ENOTDIR when not a directory).</summary>
    protected int ListIfDirectory(StorePlace place, List<DirEntry> entries) => ListStoreDir(place, StorePath!, entries, skip: []);

    /// <summary>Where its directory is in the store, for internal names.</summary>
    protected StorePlace Place => PathMap.PlaceOf(MountPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
}

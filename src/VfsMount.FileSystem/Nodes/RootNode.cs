using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>The mount's root: state.json, session.json and .vfs/ where the store has them, and one directory per context.</summary>
internal sealed class RootNode(ViewServices view) : VfsNode(view, "/", null, view.Store.Root), IReadDir, IRmdir
{
    /// <summary>Contexts are made, renamed and removed in contexts/: the kernel checks those against its owner and mode, as for chibi.</summary>
    public override int GetAttr(out FileAttr attr) => View.Attrs.Stat(View.Store.ContextsDir, out attr);

    public int ReadDir(List<DirEntry> entries)
    {
        entries.Add(new DirEntry("state.json", FileKind.Regular));
        if (FileStatus.Lstat(View.Store.SessionPath, out _) == 0) entries.Add(new DirEntry(StoreLayout.SessionName, FileKind.Regular));
        if (View.Paths.HasVfs) entries.Add(new DirEntry(PathMap.VfsName, FileKind.Directory));
        foreach (var c in View.Store.ListContexts()) entries.Add(new DirEntry(c, FileKind.Directory));
        return 0;
    }

    public int Rmdir(Caller caller) => Errno.EBUSY;

    public override int RefuseNewEntry() => Errno.EPERM;
}

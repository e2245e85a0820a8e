namespace VfsMount.FileSystem.Nodes;

/// <summary>An internal file of the store (a lock, .dirty, a commit temp file): never listed, opened, made, renamed or removed.</summary>
internal sealed class InternalNode(ViewServices view, string path, string? context, string? storePath, bool vfs = false)
    : VfsNode(view, path, context, storePath), IOpen, IUnlink, IMkdir
{
    public override bool Vfs => vfs;

    public override int Reachable() => Errno.ENOENT;

    public override int GetAttr(out FileAttr attr)
    {
        attr = default;
        return Errno.ENOENT;
    }

    /// <summary>Only reached for a create: the dispatch checks reachability first otherwise.</summary>
    public int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened)
    {
        opened = default;
        return create ? Refuse(Errno.EPERM, "internal files of the store cannot be created") : Errno.ENOENT;
    }

    public int Unlink() => Refuse(Errno.EPERM, "internal files of the store cannot be removed");
    public int Mkdir(uint mode, Caller caller) => RefuseNewEntry();
    public override int RefuseNewEntry() => Refuse(Errno.EPERM, "internal names of the store cannot be created");
}

/// <summary>A name that is nothing: at the top, not a valid context name (nor state.json); anywhere in such a name's place.</summary>
/// <param name="atTop">Directly in the root: mkdir there asks the store to make a context, which says why the name is refused.</param>
internal sealed class InvalidNode(ViewServices view, string path, bool atTop) : VfsNode(view, path, null, null), IUnlink, IMkdir
{
    public override int Reachable() => Errno.ENOENT;

    public override int GetAttr(out FileAttr attr)
    {
        attr = default;
        return Errno.ENOENT;
    }

    public int Unlink() => Errno.ENOENT;

    public int Mkdir(uint mode, Caller caller) => atTop ? ContextNode.Make(View, Path.GetFileName(MountPath), mode, caller) : Errno.EEXIST;

    public override int RefuseNewEntry() => Errno.EPERM;
}

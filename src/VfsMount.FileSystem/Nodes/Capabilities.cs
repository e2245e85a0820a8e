using VfsMount.FileSystem.Handles;

namespace VfsMount.FileSystem.Nodes;

// One small interface per operation a node may answer (go-fuse's shape). A node that does not
// implement one gets the default answer written on it, from ContextFileSystem's dispatch.
// Operations on an existing node (getattr, readdir, open, truncate, rmdir, readlink, setattr)
// run only once the node is reachable (VfsNode.Reachable); the others name a new entry and
// check for themselves.

/// <summary>readdir. Default: ENOTDIR.</summary>
internal interface IReadDir
{
    int ReadDir(List<DirEntry> entries);
}

/// <summary>open and create (create: the kernel found the name missing). Default: a directory — EISDIR to write, else EPERM.</summary>
internal interface IOpen
{
    int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened);
}

/// <summary>What an open made: the handle, how the kernel may cache its pages, whether a close needs a flush (see <see cref="OpenResult"/>).</summary>
internal readonly record struct Opened(Handle Handle, bool DirectIo, bool KeepCache, bool NoFlush = false);

/// <summary>truncate(2) by name. Default: EISDIR.</summary>
internal interface ITruncate
{
    int Truncate(long size);
}

/// <summary>unlink(2). Default: EISDIR (a directory).</summary>
internal interface IUnlink
{
    int Unlink();
}

/// <summary>mkdir(2) of this name. Default: EEXIST (the name is something already).</summary>
internal interface IMkdir
{
    int Mkdir(uint mode, Caller caller);
}

/// <summary>rmdir(2). Default: ENOTDIR.</summary>
internal interface IRmdir
{
    int Rmdir(Caller caller);
}

/// <summary>symlink(2), mknod(2) and link(2) making this name. Default: <see cref="VfsNode.RefuseNewEntry"/>.</summary>
internal interface IMakeEntry
{
    int Symlink(string target, Caller caller);
    int Mknod(FileKind kind, uint mode, uint rdev, Caller caller);
    int Link(VfsNode existing);
}

/// <summary>readlink(2). Default: EINVAL (not a symlink).</summary>
internal interface IReadLink
{
    int ReadLink(out string target);
}

/// <summary>
/// chmod, chown and utimens: applied to the file behind the name (SPEC §2.5). A log with no file
/// yet answers <paramref name="noFileYet"/>. Default: EPERM.
/// </summary>
internal interface ISetAttr
{
    int SetAttr(Func<string, int> apply, int noFileYet);
}

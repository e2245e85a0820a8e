using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>A directory of chibi 0.10's shared VFS (.vfs/ and below): an ordinary directory, every regular file in it a document.</summary>
internal sealed class VfsDirectoryNode(ViewServices view, string path, string storePath)
    : VfsNode(view, path, null, storePath), IReadDir, IRmdir, IReadLink, ISetAttr
{
    public override bool Vfs => true;

    /// <summary>.vfs/ itself, which stays while STORE/vfs/ does.</summary>
    public bool IsTop => StorePath == View.Store.VfsDir;

    public override int Reachable() => PathOk(View.Store.VfsDir);

    public override int GetAttr(out FileAttr attr) => View.Attrs.Stat(StorePath!, out attr);

    public int ReadDir(List<DirEntry> entries) => ListIfDirectory(Place, entries);

    public int Rmdir(Caller caller) => IsTop ? Errno.ENOTDIR : PathOps.Rmdir(StorePath!);

    public int ReadLink(out string target) => PathOps.ReadLink(StorePath!, out target);

    public int SetAttr(Func<string, int> apply, int noFileYet) => apply(StorePath!);
}

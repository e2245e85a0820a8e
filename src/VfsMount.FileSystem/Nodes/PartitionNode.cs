using VfsMount.FileSystem.Handles;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>transcript/ and everything in it: the raw partition files as stored, read-only (EROFS to every change).</summary>
internal sealed class PartitionNode(ViewServices view, string path, string context, string storePath)
    : VfsNode(view, path, context, storePath), IReadDir, IOpen, ITruncate, IUnlink, IMkdir, IRmdir, IReadLink, ISetAttr
{
    private int ReadOnly() => Refuse(Errno.EROFS, "transcript/ is read-only");

    public override int GetAttr(out FileAttr attr)
    {
        int e = View.Attrs.Stat(StorePath!, out attr);
        attr.Permissions &= ~0x92u;   // no write bits
        return e;
    }

    public int ReadDir(List<DirEntry> entries) => ListIfDirectory(Place, entries);

    public int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened)
    {
        opened = default;
        if (create || (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0) return ReadOnly();
        int errno = PosixFile.Open(StorePath!, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
        if (errno != 0) return errno;
        opened = new Opened(new FileHandle(file!, append: false, readOnly: true), DirectIo: false, KeepCache: false, NoFlush: true);   // nothing to flush
        return 0;
    }

    public int Truncate(long size) => ReadOnly();
    public int Unlink() => ReadOnly();
    public int Mkdir(uint mode, Caller caller) => ReadOnly();
    public int Rmdir(Caller caller) => ReadOnly();
    public override int RefuseNewEntry() => ReadOnly();
    public int ReadLink(out string target) => PathOps.ReadLink(StorePath!, out target);
    public int SetAttr(Func<string, int> apply, int noFileYet) => ReadOnly();
}

using VfsMount.FileSystem.Nodes;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

public sealed partial class ContextFileSystem
{
    public int Unlink(string path) => Guard(path, () =>
        Resolve(path) is IUnlink node ? node.Unlink() : Errno.EISDIR);

    public int Mkdir(string path, uint mode, Caller caller) => Guard(path, () =>
        Resolve(path) is IMkdir node ? node.Mkdir(mode, caller) : Errno.EEXIST);

    public int Rmdir(string path, Caller caller = default) => Guard(path, () =>
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        return node is IRmdir dir ? dir.Rmdir(caller) : Errno.ENOTDIR;
    });

    public int Symlink(string target, string linkPath, Caller caller) => Guard(linkPath, () =>
        Resolve(linkPath) is var node && node is IMakeEntry entry ? entry.Symlink(target, caller) : node.RefuseNewEntry());

    public int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller) => Guard(path, () =>
        Resolve(path) is var node && node is IMakeEntry entry ? entry.Mknod(kind, mode, rdev, caller) : node.RefuseNewEntry());

    public int Link(string existingPath, string newPath) => Guard(newPath, () =>
    {
        var source = Existing(existingPath, out int errno);
        if (errno != 0) return errno;
        var target = Resolve(newPath);
        if (target is DocumentNode or LogNode) return target.Refuse(Errno.EPERM, "only scratch files can be hard linked");
        return target is IMakeEntry entry ? entry.Link(source) : target.RefuseNewEntry();
    });

    public int ReadLink(string path, out string target)
    {
        target = "";
        try
        {
            var node = Existing(path, out int errno);
            if (errno != 0) return errno;
            return node is IReadLink link ? link.ReadLink(out target) : Errno.EINVAL;
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    public int Chmod(string path, uint mode) => Guard(path, () =>
        OnBackingFile(path, p => PathOps.Chmod(p, mode & 0xFFF)));   // a symlink: EOPNOTSUPP, from PathOps

    public int Chown(string path, uint? uid, uint? gid) => Guard(path, () =>
        OnBackingFile(path, p => PathOps.LChown(p, uid ?? Ownership.Unchanged, gid ?? Ownership.Unchanged)));

    public int SetTimes(string path, long? accessNs, long? modifyNs) => Guard(path, () =>
        Resolve(path) is RootNode ? 0   // the root keeps its times; `touch` on it is harmless
            : OnBackingFile(path, p => PathOps.SetTimes(p, accessNs, modifyNs), noFileYet: 0));

    /// <summary>chmod, chown and utimens reach the file behind the name (SPEC §2.5).</summary>
    private int OnBackingFile(string path, Func<string, int> apply, int noFileYet = Errno.EPERM)
    {
        var node = Existing(path, out int errno);
        if (errno != 0) return errno;
        return node is ISetAttr backed ? backed.SetAttr(apply, noFileYet) : Errno.EPERM;
    }

    public int Rename(string from, string to, RenameFlags flags) => Guard(from, () =>
    {
        var source = Existing(from, out int errno);
        return errno != 0 ? errno : Renames.Rename(_view, source, Resolve(to), flags);
    });
}

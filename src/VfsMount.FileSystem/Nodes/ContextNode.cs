using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>A context's directory: its logs (always listed), transcript/, its documents and scratch.</summary>
internal sealed class ContextNode(ViewServices view, string path, string context)
    : VfsNode(view, path, context, view.Store.ContextDir(context)), IReadDir, IMkdir, IRmdir, ISetAttr
{
    public override int GetAttr(out FileAttr attr) => View.Attrs.Stat(StorePath!, out attr);

    public int ReadDir(List<DirEntry> entries)
    {
        foreach (var name in PathMap.AlwaysListed) entries.Add(new DirEntry(name, FileKind.Regular));
        // A context made by another program may have no transcript/ yet: list it once it exists.
        if (FileStatus.Lstat(Path.Combine(StorePath!, PathMap.TranscriptDirName), out var tst) == 0 && tst.IsDirectory)
            entries.Add(new DirEntry(PathMap.TranscriptDirName, FileKind.Directory));
        return ListStoreDir(StorePlace.ContextTop, StorePath!, entries, skip: [.. PathMap.AlwaysListed, PathMap.TranscriptDirName]);
    }

    public int Mkdir(uint mode, Caller caller) => Make(View, Context!, mode, caller);

    /// <summary>
    /// mkdir of a context, as chibi makes one (an anchor entry, a registry record); the store
    /// refuses a bad name (EINVAL, ENAMETOOLONG) or one in use (EEXIST). The directory is as
    /// mkdir(2) would make it: the requested mode (umask applied), the caller's.
    /// </summary>
    public static int Make(ViewServices view, string name, uint mode, Caller caller)
    {
        view.Store.CreateContext(name, WorkingDirectoryOf(caller));
        view.RegistryChanged();
        string contextDir = view.Store.ContextDir(name);
        int chmodded = FileStatus.Lstat(contextDir, out var made) != 0 ? Errno.ENOENT
            : PathOps.Chmod(contextDir, (mode & 0x3FF) | (made.Mode & 0x400));   // set-gid stays, as mkdir(2) under a set-gid contexts/ keeps it
        return chmodded != 0 ? chmodded : Ownership.GiveTreeTo(contextDir, caller.Uid, caller.Gid);
    }

    public int Rmdir(Caller caller)
    {
        if (ListAll(StorePath!, out var all) is var errno and not 0) return errno;
        if (all.Any(e => IsScratch(e.Name))) return Refuse(Errno.ENOTEMPTY, "the context holds scratch files");
        // The kernel checked contexts/ only; the context's own files go too, as rm -r's would.
        foreach (string dir in new[] { StorePath!, Path.Combine(StorePath!, PathMap.TranscriptDirName) })
            if (FileStatus.Lstat(dir, out var dst) == 0 && !Access.MayWrite(dst, caller.Uid, caller.Gid, caller.Pid))
                return Refuse(Errno.EACCES, $"no write permission on {Path.GetRelativePath(View.Store.ContextsDir, dir)}");
        View.Store.RemoveContext(Context!);   // ENOTEMPTY when the transcript has entries beyond its anchor
        View.RegistryChanged();
        return 0;
    }

    public int SetAttr(Func<string, int> apply, int noFileYet) => apply(StorePath!);

    public override int RefuseNewEntry() => Errno.EPERM;

    /// <summary>A name a user put in the context beyond chibi's own files.</summary>
    private static bool IsScratch(string name) =>
        !InternalNames.IsInternal(StorePlace.ContextTop, name) && name != PathMap.TranscriptDirName && !PathMap.IsChibiFile(name);

    /// <summary>The calling process's working directory (chibi 0.10's cwd), null when it cannot be read (gone, or another user's).</summary>
    private static string? WorkingDirectoryOf(Caller caller)
    {
        if (caller.Pid <= 0) return null;
        try
        {
            return new FileInfo($"/proc/{caller.Pid}/cwd").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

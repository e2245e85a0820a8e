using System.Collections.Concurrent;
using VfsMount.FileSystem.Handles;
using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>
/// The view of SPEC §2 over a chibi store: root, contexts, logs, documents, scratch and the
/// read-only transcript/. Platform-neutral; hosts translate kernel requests into these calls.
/// Every operation is an exception firewall: store errors become their errno, anything
/// unexpected is logged and answered with EIO.
/// </summary>
public sealed partial class ContextFileSystem : IFileSystem
{
    private readonly ChibiStore _store;
    private readonly PathMap _paths;
    private readonly Refusals _refusals;
    private readonly TextWriter _log;
    private readonly ConcurrentDictionary<ulong, Handle> _handles = new();
    private readonly DocumentCommits _commits = new();
    private long _nextHandle;

    public ContextFileSystem(ChibiStore store, TextWriter? log = null, MountLimits? limits = null)
    {
        _store = store;
        _paths = new PathMap(store);
        _log = log ?? Console.Error;
        _refusals = new Refusals(store.Quarantine, _log, store.Counters);
        Limits = limits ?? MountLimits.Default;
    }

    public MountLimits Limits { get; }

    /// <summary>Files of the store open through the mount now.</summary>
    public int OpenHandles => _handles.Count;

    internal Refusals Refusals => _refusals;

    internal ChibiStore Store => _store;

    /// <summary>Raised with a mount path whose committed content changed (the host drops kernel caches).</summary>
    public event Action<string>? ContentChanged;

    /// <summary>
    /// Calls <paramref name="changedByOthers"/> with each mount path whose file another program
    /// changed in the store, until disposed (SPEC §2.6: they show at once, not only after the
    /// cache timeout).
    /// </summary>
    public IDisposable WatchStore(Action<string> changedByOthers) => new StoreWatcher(_store, changedByOthers);

    public int GetAttr(string path, ulong? handle, out FileAttr attr)
    {
        attr = default;
        try
        {
            // libfuse passes no path (here "") for an open file whose name was unlinked or renamed
            // over: answer from the handle's own file, never from the path (the root's attributes
            // would make the kernel see the file turn into a directory and fail it with EIO).
            if (path.Length == 0 && handle is { } u && _handles.TryGetValue(u, out var orphan))
            {
                if (orphan.Status(out var own) != 0) return Behind(_store.Root, orphan.Size ?? 0, out attr);
                Fill(own, out attr);
                if (orphan.Size is { } staged) attr.Size = staged;
                return 0;
            }
            if (handle is { } h && _handles.TryGetValue(h, out var open) && open.Size is { } size)
            {
                var node0 = _paths.Resolve(path);
                int e = node0.StorePath is not null && FileStatus.Lstat(node0.StorePath, out var st0) == 0
                    ? Fill(st0, out attr) : Behind(_store.Root, 0, out attr);
                attr.Size = size;
                return e;
            }
            return AttrOf(_paths.Resolve(path), path, out attr);
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    private int AttrOf(Node node, string path, out FileAttr attr)
    {
        attr = default;
        switch (node.Kind)
        {
            case NodeKind.Root:
                // Contexts are made, renamed and removed in contexts/: the kernel checks those
                // against its owner and mode, as for chibi.
                return Stat(_store.ContextsDir, out attr);
            case NodeKind.VfsDirectory:
                return Reachable(node) is var unreachable and not 0 ? unreachable : Stat(node.StorePath!, out attr);
            case NodeKind.Context:
                return _store.ContextExists(node.Context!) ? Stat(node.StorePath!, out attr) : Errno.ENOENT;
            case NodeKind.Hidden:
            case NodeKind.Invalid:
                return Errno.ENOENT;
        }
        if (node.Context is not null && !_store.ContextExists(node.Context)) return Errno.ENOENT;
        if (node.Vfs && VfsPathOk(node) is var badVfs and not 0) return badVfs;
        switch (node.Kind)
        {
            case NodeKind.TranscriptLog:
            {
                var transcript = _store.Transcript(node.Context!);
                long length = transcript.Measure(out var active);
                int e = active is { } st ? Fill(st, out attr)
                    : transcript.OwnerFile() is { } owner && FileStatus.Lstat(owner, out var ost) == 0 ? Fill(ost, out attr)
                    : Behind(Path.Combine(_store.ContextDir(node.Context!), PathMap.TranscriptDirName), 0, out attr);
                attr.Size = length;
                attr.Identity = default;   // the partitions change under one virtual file
                attr.IsLog = true;
                return e;
            }
            case NodeKind.InboxLog:
            case NodeKind.TextLog:
            {
                bool exists = FileStatus.Lstat(node.StorePath!, out var lst) == 0;
                if (exists && !lst.IsRegular) return Planted(node, path, lst);
                int e = exists ? Fill(lst, out attr) : Behind(Path.GetDirectoryName(node.StorePath!)!, 0, out attr);
                attr.Identity = default;   // one node whether or not its file exists yet
                attr.IsLog = true;
                return e;
            }
            case NodeKind.Document:
            {
                if (FileStatus.Lstat(node.StorePath!, out var dst) == 0)
                {
                    if (!dst.IsRegular && !dst.IsSymlink) return Planted(node, path, dst);
                    Fill(dst, out attr);
                    if (dst.IsRegular) StagedAttributes.Show(_commits, node.StorePath!, ref attr);   // fstat of a writer (SPEC §2.2)
                    return 0;
                }
                // A document created but not yet committed exists for the handle that staged it.
                var staged = _commits.StagesOf(node.StorePath!).FirstOrDefault();
                if (staged is null) return node.StorePath == _store.StatePath ? Behind(_store.Root, 0, out attr) : Errno.ENOENT;
                // Its staged copy is the file behind it: made for its creator.
                if (FileStatus.Lstat(staged.StagePath, out var sst) != 0) return Behind(Path.GetDirectoryName(node.StorePath!)!, staged.Size ?? 0, out attr);
                Fill(sst, out attr);
                (attr.Size, attr.Identity) = (staged.Size ?? 0, default);
                return 0;
            }
            case NodeKind.ReadOnly:
            {
                int e = Stat(node.StorePath!, out attr);
                attr.Permissions &= ~0x92u;   // no write bits: transcript/ is read-only
                return e;
            }
            default:
                return ScratchPathOk(node) is var bad && bad != 0 ? bad : Stat(node.StorePath!, out attr);
        }
    }

    /// <summary>
    /// A FIFO, socket or device where the store keeps a document or a log (SPEC §3): EIO, logged.
    /// Presented as what it is, the kernel would open it itself and a reader would block.
    /// </summary>
    private int Planted(Node node, string path, in FileStatus st) =>
        Refuse(node, path, Errno.EIO, $"{node.StorePath}: a {KindOf(st).ToString().ToLowerInvariant()} where the store keeps a regular file; not opened");

    public int ReadDir(string path, List<DirEntry> entries)
    {
        try
        {
            var node = _paths.Resolve(path);
            switch (node.Kind)
            {
                case NodeKind.Root:
                    entries.Add(new DirEntry("state.json", FileKind.Regular));
                    if (FileStatus.Lstat(_store.SessionPath, out _) == 0) entries.Add(new DirEntry(StoreLayout.SessionName, FileKind.Regular));
                    if (_paths.HasVfs) entries.Add(new DirEntry(PathMap.VfsName, FileKind.Directory));
                    foreach (var c in _store.ListContexts()) entries.Add(new DirEntry(c, FileKind.Directory));
                    return 0;
                case NodeKind.Context:
                    if (!_store.ContextExists(node.Context!)) return Errno.ENOENT;
                    foreach (var name in PathMap.AlwaysListed) entries.Add(new DirEntry(name, FileKind.Regular));
                    // A context made by another program may have no transcript/ yet: list it once it exists.
                    if (FileStatus.Lstat(Path.Combine(node.StorePath!, PathMap.TranscriptDirName), out var tst) == 0 && tst.IsDirectory)
                        entries.Add(new DirEntry(PathMap.TranscriptDirName, FileKind.Directory));
                    ListStoreDir(path, node.StorePath!, entries, skip: [.. PathMap.AlwaysListed, PathMap.TranscriptDirName]);
                    return 0;
                case NodeKind.ReadOnly:
                case NodeKind.Scratch:
                case NodeKind.VfsDirectory:
                    if (node.Kind != NodeKind.ReadOnly && Reachable(node) is var bad && bad != 0) return bad;
                    if (FileStatus.Lstat(node.StorePath!, out var st) != 0) return Errno.ENOENT;
                    if (!st.IsDirectory) return Errno.ENOTDIR;
                    ListStoreDir(path, node.StorePath!, entries, skip: []);
                    return 0;
                default:
                    return Errno.ENOTDIR;
            }
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    private static void ListStoreDir(string mountPath, string dir, List<DirEntry> entries, string[] skip)
    {
        var place = PathMap.PlaceOf(mountPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
        foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos())
        {
            if (InternalNames.IsInternal(place, info.Name) || skip.Contains(info.Name)) continue;
            var kind = info.LinkTarget is not null ? FileKind.Symlink
                : info is DirectoryInfo ? FileKind.Directory : FileKind.Regular;
            entries.Add(new DirEntry(info.Name, kind));
        }
    }

    public int StatFs(string path, out FsStats stats)
    {
        var drive = new DriveInfo(_store.Root);
        const ulong block = 4096;
        stats = new FsStats
        {
            BlockSize = block,
            Blocks = (ulong)drive.TotalSize / block,
            BlocksFree = (ulong)drive.TotalFreeSpace / block,
            BlocksAvailable = (ulong)drive.AvailableFreeSpace / block,
            Files = 1_000_000,
            FilesFree = 1_000_000,
            NameMax = 255,
        };
        return 0;
    }

    /// <summary>The daemon never follows a symlink out of the store: every directory on the way must be real.</summary>
    private int ScratchPathOk(Node node) => PathOk(_store.ContextDir(node.Context!), node);

    private int VfsPathOk(Node node) => PathOk(_store.VfsDir, node);

    private static int PathOk(string dir, Node node)
    {
        string rel = Path.GetRelativePath(dir, node.StorePath!);
        var parts = rel.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            dir = Path.Combine(dir, parts[i]);
            if (FileStatus.Lstat(dir, out var st) != 0) return Errno.ENOENT;
            if (!st.IsDirectory) return st.IsSymlink ? Errno.ELOOP : Errno.ENOTDIR;
        }
        return 0;
    }

    private static int Stat(string storePath, out FileAttr attr)
    {
        int errno = FileStatus.Lstat(storePath, out var st);
        if (errno != 0)
        {
            attr = default;
            return errno;
        }
        return Fill(st, out attr);
    }

    private static int Fill(in FileStatus st, out FileAttr attr)
    {
        attr = new FileAttr
        {
            Kind = KindOf(st),
            Permissions = st.Permissions,
            Size = st.Size,
            AccessNs = st.AccessNs,
            ModifyNs = st.ModifyNs,
            ChangeNs = st.ChangeNs,
            Links = st.Links,
            Uid = st.Uid,
            Gid = st.Gid,
            Rdev = (st.RdevMajor & 0xFFF) << 20 | (st.RdevMinor & 0xFFFFF),
            Identity = new NodeIdentity(st.Device, st.Inode),
        };
        return 0;
    }

    /// <summary>The store's file types and the view's kinds, both ways.</summary>
    private static readonly (FileKind Kind, uint Type)[] Types =
    [
        (FileKind.Regular, FileStatus.TypeRegular), (FileKind.Directory, FileStatus.TypeDirectory),
        (FileKind.Symlink, FileStatus.TypeSymlink), (FileKind.Fifo, FileStatus.TypeFifo), (FileKind.Socket, FileStatus.TypeSocket),
        (FileKind.CharDevice, FileStatus.TypeCharDevice), (FileKind.BlockDevice, FileStatus.TypeBlockDevice),
    ];

    internal static FileKind KindOf(in FileStatus st)
    {
        uint type = st.Type;
        return Array.Find(Types, t => t.Type == type) is { Type: not 0 } found ? found.Kind : FileKind.Regular;
    }

    private static uint TypeOf(FileKind kind) => Array.Find(Types, t => t.Kind == kind).Type;

    /// <summary>
    /// A virtual file with nothing behind it yet presents the owner of the directory it would be
    /// made in, and that directory's read/write bits (SPEC §2.5): who may create it there may use it.
    /// </summary>
    private static int Behind(string directory, long size, out FileAttr attr)
    {
        Virtual(FileKind.Regular, 0x1A4, size, out attr);
        if (FileStatus.Lstat(directory, out var dir) != 0) return 0;
        (attr.Uid, attr.Gid, attr.Permissions) = (dir.Uid, dir.Gid, dir.Permissions & 0x1B6);
        return 0;
    }

    private static int Virtual(FileKind kind, uint permissions, long size, out FileAttr attr)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        attr = new FileAttr { Kind = kind, Permissions = permissions, Size = size, AccessNs = now, ModifyNs = now, ChangeNs = now, Links = 1 };
        return 0;
    }

    /// <summary>The firewall: a store refusal is its errno; anything else is logged and is EIO.</summary>
    private int Fail(Exception e, string path)
    {
        int errno = StoreException.ErrnoOf(e);
        if (e is StoreException refusal)
        {
            // The store refused (a bad name, EEXIST, EBUSY, ENOTEMPTY …): logged like every refusal.
            var parts = path.TrimStart('/').Split('/', 2);
            return _refusals.Refuse(parts[0], parts.Length > 1 ? parts[1] : "", errno, refusal.Message);
        }
        if (e is IOException or UnauthorizedAccessException)
        {
            lock (_log) _log.WriteLine(Refusals.OneLine($"vfsmount: {path}: {e.Message} (errno {errno})"));
            return errno;
        }
        lock (_log) _log.WriteLine($"vfsmount: INTERNAL ERROR on {path}: {e}");
        return Errno.EIO;
    }

    private Node Existing(string path, out int errno)
    {
        var node = _paths.Resolve(path);
        errno = Reachable(node);
        return node;
    }

    /// <summary>0 when the node can be used: not internal, in a context that exists, through no symlink.</summary>
    private int Reachable(Node node) => node.Kind switch
    {
        NodeKind.Hidden or NodeKind.Invalid => Errno.ENOENT,
        _ when node.Context is not null && !_store.ContextExists(node.Context) => Errno.ENOENT,
        NodeKind.Scratch => ScratchPathOk(node),
        _ when node.Vfs => VfsPathOk(node),
        _ => 0,
    };

    /// <summary>The store rewrote state.json (a context was created, removed or renamed).</summary>
    private void RegistryChanged() => ContentChanged?.Invoke("/state.json");

    /// <summary>A commit replaced the document's content: the host gives the name a new node and drops the old one's cache.</summary>
    private void Changed(string storePath)
    {
        string mountPath = _paths.MountPathOf(storePath);
        var parts = mountPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        _store.Counters.Committed(parts.Length > 1 && parts[0] != PathMap.VfsName ? parts[0] : null);   // a context's document, or the store's
        ContentChanged?.Invoke(mountPath);
    }
}

/// <summary>Size limits of SPEC §3.</summary>
public sealed record MountLimits(long MaxLineBytes, long MaxDocumentBytes)
{
    public static readonly MountLimits Default = new(16L << 20, 1L << 30);
}

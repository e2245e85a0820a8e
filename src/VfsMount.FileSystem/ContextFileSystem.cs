using System.Collections.Concurrent;
using VfsMount.FileSystem.Handles;
using VfsMount.FileSystem.Nodes;
using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>
/// The view of SPEC §2 over a chibi store: root, contexts, logs, documents, scratch and the
/// read-only transcript/. Platform-neutral; hosts translate kernel requests into these calls.
/// Each path resolves to a node of its kind (Nodes/), which answers the operations it has a
/// capability for (Nodes/Capabilities.cs); this class dispatches, keeps the open handles, and
/// is the exception firewall: store errors become their errno, anything unexpected is logged
/// and answered with EIO.
/// </summary>
public sealed partial class ContextFileSystem : IFileSystem
{
    private readonly ViewServices _view;
    private readonly TextWriter _log;
    private readonly ConcurrentDictionary<ulong, Handle> _handles = new();
    private long _nextHandle;

    public ContextFileSystem(ChibiStore store, TextWriter? log = null, MountLimits? limits = null)
    {
        _log = log ?? Console.Error;
        _view = new ViewServices(store, new Refusals(store.Quarantine, _log, store.Counters), limits ?? MountLimits.Default);
    }

    public MountLimits Limits => _view.Limits;

    /// <summary>Files of the store open through the mount now.</summary>
    public int OpenHandles => _handles.Count;

    internal Refusals Refusals => _view.Refusals;

    internal ChibiStore Store => _view.Store;

    /// <summary>Raised with a mount path whose committed content changed (the host drops kernel caches).</summary>
    public event Action<string>? ContentChanged
    {
        add => _view.ContentChanged += value;
        remove => _view.ContentChanged -= value;
    }

    /// <summary>
    /// Calls <paramref name="changedByOthers"/> with each mount path whose file another program
    /// changed in the store, until disposed (SPEC §2.6: they show at once, not only after the
    /// cache timeout).
    /// </summary>
    public IDisposable WatchStore(Action<string> changedByOthers) => new StoreWatcher(Store, changedByOthers);

    private VfsNode Resolve(string path) => _view.Paths.Resolve(path);

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
                if (orphan.Status(out var own) != 0) return Attrs.Behind(Store.Root, orphan.Size ?? 0, out attr);
                _view.Attrs.Fill(own, out attr);
                if (orphan.Size is { } staged) attr.Size = staged;
                return 0;
            }
            var node = Resolve(path);
            if (handle is { } h && _handles.TryGetValue(h, out var open) && open.Size is { } size)
            {
                int e = node.StorePath is not null && FileStatus.Lstat(node.StorePath, out var st) == 0
                    ? _view.Attrs.Fill(st, out attr) : Attrs.Behind(Store.Root, 0, out attr);
                attr.Size = size;
                return e;
            }
            return node.Reachable() is var unreachable and not 0 ? unreachable : node.GetAttr(out attr);
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    public int ReadDir(string path, List<DirEntry> entries) => Guard(path, () =>
    {
        var node = Resolve(path);
        if (node is not IReadDir dir) return Errno.ENOTDIR;
        return node.Reachable() is var errno and not 0 ? errno : dir.ReadDir(entries);
    });

    public int StatFs(string path, out FsStats stats)
    {
        var drive = new DriveInfo(Store.Root);
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

    /// <summary>The node at path once it can be used (see <see cref="VfsNode.Reachable"/>), else the errno.</summary>
    private VfsNode Existing(string path, out int errno)
    {
        var node = Resolve(path);
        errno = node.Reachable();
        return node;
    }

    private int Guard(string path, Func<int> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception e)
        {
            return Fail(e, path);
        }
    }

    /// <summary>The firewall: a store refusal is its errno; anything else is logged and is EIO.</summary>
    private int Fail(Exception e, string path)
    {
        int errno = StoreException.ErrnoOf(e);
        if (e is StoreException refusal)
        {
            // The store refused (a bad name, EEXIST, EBUSY, ENOTEMPTY …): logged like every refusal.
            var parts = path.TrimStart('/').Split('/', 2);
            return Refusals.Refuse(parts[0], parts.Length > 1 ? parts[1] : "", errno, refusal.Message);
        }
        if (e is IOException or UnauthorizedAccessException)
        {
            lock (_log) _log.WriteLine(Refusals.OneLine($"vfsmount: {path}: {e.Message} (errno {errno})"));
            return errno;
        }
        lock (_log) _log.WriteLine($"vfsmount: INTERNAL ERROR on {path}: {e}");
        return Errno.EIO;
    }
}

/// <summary>Size limits of SPEC §3.</summary>
public sealed record MountLimits(long MaxLineBytes, long MaxDocumentBytes)
{
    public static readonly MountLimits Default = new(16L << 20, 1L << 30);
}

using System.Collections.Concurrent;
using System.Text;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// Every kernel cache notification goes through here, and each is chosen so that it cannot
/// wait on a lock whose holder waits for this daemon. A notification that waits in the kernel
/// — inval_entry takes the directory's lock, a page invalidation takes page locks — while a
/// request holding that lock waits for our reply is a deadlock, and if the daemon is killed
/// then, it cannot even exit (its notifying thread is stuck, so /dev/fuse never closes and the
/// connection is never aborted). So:
/// <list type="bullet">
/// <item>What the view changes while serving a request (a commit, state.json rewritten) is held
/// until the view call has returned (no lock of ours is held while the kernel is notified),
/// then, before the reply, the old node's attributes are dropped — not its pages: they are
/// the old file's bytes, still right for readers that opened it — and its name. inval_entry
/// needs the directory's lock, so it is sent at once only from flush and release (the kernel
/// holds no lock of the file or directory while it waits for those), and by at most a few
/// workers at a time, so that a request holding the directory's lock always finds a free
/// worker; otherwise a thread of its own sends it.</item>
/// <item>Changes others make in the store (<see cref="AttributesOnly"/>) and appends drop
/// attributes only, which takes no lock at all — and, where names came or went, a directory's
/// cached listing: its pages, which the kernel locks only while it copies entries in or out,
/// never while it waits for a reply.</item>
/// </list>
/// A node left under its old name answers its next open or stat with ESTALE (its name now leads
/// to another file), which makes the kernel look the name up again.
/// </summary>
internal sealed class Notifier : IDisposable
{
    private const int ENOTCONN = 107;

    private readonly NodeTable _nodes;
    private readonly Func<FuseSessionHandle?> _session;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _waitingWorkers;
    private readonly BlockingCollection<(ulong Parent, string Name)> _entries = new();
    private readonly Thread _entryThread;

    /// <param name="workers">libfuse's most worker threads: all but two may wait in inval_entry.</param>
    public Notifier(NodeTable nodes, Func<FuseSessionHandle?> session, Action<string> log, int workers)
    {
        _nodes = nodes;
        _session = session;
        _log = log;
        _waitingWorkers = new SemaphoreSlim(Math.Max(1, workers - 2));
        _entryThread = new Thread(DropEntries) { IsBackground = true, Name = "vfsmount-inval-entry" };
        _entryThread.Start();
    }

    [ThreadStatic]
    private static Notifier? t_serving;

    [ThreadStatic]
    private static List<string>? t_pending;

    [ThreadStatic]
    private static bool t_holdsNoLock;

    /// <summary>
    /// Marks the calling thread as serving a request until <see cref="EndRequest"/>;
    /// <paramref name="holdsNoLock"/>: the kernel holds no inode lock while it waits (flush, release).
    /// </summary>
    public void BeginRequest(bool holdsNoLock)
    {
        t_serving = this;
        t_holdsNoLock = holdsNoLock;
    }

    /// <summary>The view call has returned: notify what it changed, before the reply.</summary>
    public void EndRequest()
    {
        t_serving = null;
        if (t_pending is not { Count: > 0 } pending) return;
        t_pending = null;
        foreach (string path in pending)
        {
            if (FindNode(path) is var (parent, node))
            {
                InvalAttributes(node.Id);
                if (!node.IsLog) DropName(parent, node.Name);
            }
            DropListing(ParentOf(path));
        }
    }

    /// <summary>
    /// The content or identity behind a mount path changed. Inside a request: as the class says.
    /// From another thread (a host's explicit call, which holds nothing the kernel may wait
    /// for): attributes, pages and name at once.
    /// </summary>
    public void Changed(string path)
    {
        if (t_serving == this)
        {
            (t_pending ??= []).Add(path);
            return;
        }
        DropListing(ParentOf(path));
        if (FindNode(path) is not var (parent, node)) return;   // the kernel caches nothing for it
        Call("inval_inode", node.Id, s => NativeMethods.vfs_notify_inval_inode(s, node.Id, 0, 0));
        if (!node.IsLog) InvalEntry(parent, node.Name);
    }

    /// <summary>
    /// Another program changed what is behind a mount path: drop its node's attributes; for a
    /// directory whose names changed, also its cached listing.
    /// </summary>
    public void AttributesOnly(string path)
    {
        if (path == "/")
        {
            DropListing(_nodes.Root);
            return;
        }
        if (FindNode(path) is not var (_, node)) return;
        InvalAttributes(node.Id);
        if (node.Kind == FileKind.Directory) DropListing(node);
    }

    /// <summary>
    /// Drops a directory's cached listing (its page cache, where the kernel keeps it) with its
    /// attributes. From any thread, inside any request: the kernel holds a directory's listing
    /// pages locked only while it copies entries in or out, never while it waits for us.
    /// </summary>
    public void InvalListing(ulong id) => Call("inval_inode", id, s => NativeMethods.vfs_notify_inval_inode(s, id, 0, 0));

    /// <summary>
    /// Drops a directory's listing if it was listed since its last drop: the kernel caches a
    /// listing only through a readdir, which leaves <see cref="Node.Listing"/> set (cleared
    /// first here, so a listing read meanwhile is dropped by the next change).
    /// </summary>
    public void DropListing(Node dir)
    {
        if (Interlocked.Exchange(ref dir.Listing, null) is not null) InvalListing(dir.Id);
    }

    /// <summary>The listing of the directory at a mount path, if the kernel holds its node.</summary>
    private void DropListing(string dirPath)
    {
        if (dirPath == "/") DropListing(_nodes.Root);
        else if (FindNode(dirPath) is var (_, dir)) DropListing(dir);
    }

    private static string ParentOf(string path)
    {
        int slash = path.TrimEnd('/').LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    /// <summary>Drops the node's cached attributes (not its pages): from any thread, inside any request.</summary>
    public void InvalAttributes(ulong id) => Call("inval_inode", id, s => NativeMethods.vfs_notify_inval_inode(s, id, -1, 0));

    private void DropName(ulong parent, string name)
    {
        if (t_holdsNoLock && _waitingWorkers.Wait(0))
        {
            try
            {
                InvalEntry(parent, name);
            }
            finally
            {
                _waitingWorkers.Release();
            }
        }
        else if (!_entries.IsAddingCompleted)
        {
            _entries.Add((parent, name));
        }
    }

    private void DropEntries()
    {
        foreach (var (parent, name) in _entries.GetConsumingEnumerable()) InvalEntry(parent, name);
    }

    public void Dispose()
    {
        _entries.CompleteAdding();
        _entryThread.Join(TimeSpan.FromSeconds(2));
    }

    /// <summary>The node the kernel knows at <paramref name="path"/>, walking names from the root.</summary>
    private (ulong Parent, Node Node)? FindNode(string path)
    {
        ulong parent = NodeTable.RootId;
        Node? node = null;
        foreach (string name in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (node is not null) parent = node.Id;
            node = _nodes.ByName(parent, name);
            if (node is null) return null;
        }
        return node is null ? null : (parent, node);
    }

    private unsafe void InvalEntry(ulong parent, string name)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(name + "\0");
        Call("inval_entry", parent, s =>
        {
            fixed (byte* p = bytes) return NativeMethods.vfs_notify_inval_entry(s, parent, p);
        });
    }

    private void Call(string what, ulong id, Func<FuseSessionHandle, int> notify)
    {
        var s = _session();
        if (s is null || s.IsClosed) return;
        try
        {
            int r = notify(s);
            if (r != 0 && r != -Errno.ENOENT && r != -ENOTCONN) _log($"fuse {what} {id}: errno {-r}");
        }
        catch (ObjectDisposedException)
        {
            // unmounting: nothing cached any more
        }
    }
}

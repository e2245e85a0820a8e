using System.Collections.Concurrent;
using System.Text;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// Every kernel cache notification goes through here. A change the view reports while it
/// serves a request is held until the view call has returned (no lock of ours is held while
/// the kernel is notified), then, before the reply:
/// <list type="bullet">
/// <item>the node's attributes and pages are dropped (inval_inode) at once;</item>
/// <item>its name is dropped (inval_entry) at once too, unless the request holds a directory's
/// lock in the kernel (mkdir, rename, create …), which inval_entry may need: then a thread of
/// its own drops it, and until then an open or stat of the old node sees its file replaced
/// and answers ESTALE, which makes the kernel look the name up again.</item>
/// </list>
/// </summary>
internal sealed class Notifier : IDisposable
{
    private const int ENOTCONN = 107;

    [ThreadStatic]
    private static Notifier? t_serving;

    [ThreadStatic]
    private static List<string>? t_pending;

    [ThreadStatic]
    private static bool t_holdsDirectory;

    private readonly NodeTable _nodes;
    private readonly Func<FuseSessionHandle?> _session;
    private readonly Action<string> _log;
    private readonly BlockingCollection<(ulong Parent, string Name)> _entries = new();
    private readonly Thread _entryThread;

    public Notifier(NodeTable nodes, Func<FuseSessionHandle?> session, Action<string> log)
    {
        _nodes = nodes;
        _session = session;
        _log = log;
        _entryThread = new Thread(DropEntries) { IsBackground = true, Name = "vfsmount-inval-entry" };
        _entryThread.Start();
    }

    /// <summary>
    /// Marks the calling thread as serving a request until <see cref="EndRequest"/>;
    /// <paramref name="holdsDirectory"/>: the kernel holds a directory lock while it waits.
    /// </summary>
    public void BeginRequest(bool holdsDirectory)
    {
        t_serving = this;
        t_holdsDirectory = holdsDirectory;
    }

    /// <summary>The view call has returned: notify what it changed, before the reply.</summary>
    public void EndRequest()
    {
        t_serving = null;
        if (t_pending is not { Count: > 0 } pending) return;
        t_pending = null;
        foreach (string path in pending) Notify(path, entryNow: !t_holdsDirectory);
    }

    /// <summary>The content or identity behind a mount path changed.</summary>
    public void Changed(string path)
    {
        if (t_serving == this) (t_pending ??= []).Add(path);
        else Notify(path, entryNow: true);
    }

    /// <summary>Drops the node's cached attributes (not its pages): from any thread, inside any request.</summary>
    public void AttributesChanged(ulong id) => Call("inval_inode", id, s => NativeMethods.vfs_notify_inval_inode(s, id, -1, 0));

    private void Notify(string path, bool entryNow)
    {
        if (FindNode(path) is not var (parent, node)) return;   // the kernel caches nothing for it
        InvalInode(node.Id);
        if (node.IsLog) return;   // a log keeps its node whatever is appended: its name is still right
        if (entryNow) InvalEntry(parent, node.Name);
        else if (!_entries.IsAddingCompleted) _entries.Add((parent, node.Name));
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

    private void InvalInode(ulong id) => Call("inval_inode", id, s => NativeMethods.vfs_notify_inval_inode(s, id, 0, 0));

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
        var session = _session();
        if (session is null || session.IsClosed) return;
        try
        {
            int r = notify(session);
            if (r != 0 && r != -Errno.ENOENT && r != -ENOTCONN) _log($"fuse {what} {id}: errno {-r}");
        }
        catch (ObjectDisposedException)
        {
            // unmounting: nothing cached any more
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
}

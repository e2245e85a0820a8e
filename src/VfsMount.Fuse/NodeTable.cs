using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>
/// The kernel's view of our nodes (go-fuse's rawBridge shape): node ids handed to the kernel,
/// their lookup counts, and the name each was last seen under. Ids are never reused; a node
/// lives from the first reply that names it until <c>forget</c> brings its count to zero.
/// <para>
/// A real store file keeps one node per identity (device, inode, birth time, type), so hard links share
/// a node and a file replaced underneath (a commit, chibi's atomic write) gets a new one; a
/// virtual file (a log, a missing document) is keyed by its path.
/// </para>
/// <para>
/// Lock order: <see cref="_lock"/> is a leaf — nothing else is taken, no view call and no
/// kernel notification is made while it is held.
/// </para>
/// </summary>
internal sealed class NodeTable
{
    public const ulong RootId = 1;

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Node> _byId = [];
    private readonly Dictionary<NodeKey, Node> _byKey = [];
    private readonly Dictionary<(ulong Parent, string Name), Node> _byName = [];
    private readonly Dictionary<ulong, Node> _handles = [];
    private readonly Action<string> _internalError;
    private ulong _lastId = RootId;

    public NodeTable(Action<string> internalError)
    {
        _internalError = internalError;
        Root = new Node(RootId, new NodeKey(0, 0, 0, FileKind.Directory, 0, "/"), FileKind.Directory, null, "");
        _byId[RootId] = Root;
    }

    /// <summary>The root's node, which the kernel holds for the whole mount.</summary>
    public Node Root { get; }

    /// <summary>Nodes the kernel holds (the root included).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _byId.Count;
        }
    }

    /// <summary>The node of an id the kernel sent; null (with an INTERNAL ERROR line) when unknown.</summary>
    public Node? Get(ulong id)
    {
        Node? node;
        lock (_lock) _byId.TryGetValue(id, out node);
        if (node is null) _internalError($"request for unknown node {id}");
        return node;
    }

    /// <summary>The node the kernel knows under (parent, name), if any.</summary>
    public Node? ByName(ulong parent, string name)
    {
        lock (_lock) return _byName.TryGetValue((parent, name), out var node) ? node : null;
    }

    /// <summary>
    /// The node for what the view found at (parent, name), counted once for the reply that
    /// will carry it. Creates it when this identity is new.
    /// </summary>
    public Node Bind(Node parent, string name, in FileAttr attr)
    {
        var key = NodeKey.Of(attr, parent.Id, name);
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out var node))
            {
                node = new Node(++_lastId, key, attr.Kind, parent, name) { IsLog = attr.IsLog };
                _byKey[key] = node;
                _byId[node.Id] = node;
            }
            else if (node.Parent != parent || node.Name != name)
            {
                Unname(node);
                node.Parent = parent;
                node.Name = name;
            }
            if (_byName.TryGetValue((parent.Id, name), out var previous) && previous != node && previous.Name == name
                && previous.Parent == parent)
                previous.Parent = null;   // the name now leads elsewhere: the old node has no path
            _byName[(parent.Id, name)] = node;
            node.Lookups++;
            return node;
        }
    }

    /// <summary>Gives back <paramref name="count"/> lookups; the node goes at zero.</summary>
    public void Forget(ulong id, ulong count)
    {
        if (id == RootId) return;   // the root is never counted
        lock (_lock)
        {
            if (!_byId.TryGetValue(id, out var node))
            {
                _internalError($"forget of unknown node {id}");
                return;
            }
            if (count > node.Lookups)
            {
                _internalError($"forget of {count} lookups of node {id}, which has {node.Lookups}");
                count = node.Lookups;
            }
            node.Lookups -= count;
            if (node.Lookups > 0) return;
            _byId.Remove(id);
            if (_byKey.TryGetValue(node.Key, out var keyed) && keyed == node) _byKey.Remove(node.Key);
            Unname(node);
        }
    }

    /// <summary>
    /// A handle was opened on the node (open, create); <paramref name="staged"/>: it writes a
    /// private copy that only requests naming the handle see.
    /// </summary>
    public void Opened(Node node, ulong handle, bool staged)
    {
        lock (_lock)
        {
            _handles[handle] = node;
            node.Handles.Add(new OpenHandle(handle, staged));
        }
    }

    /// <summary>The handle was released.</summary>
    public void Closed(ulong handle)
    {
        lock (_lock)
        {
            if (_handles.Remove(handle, out var node)) node.Handles.RemoveAll(h => h.Fh == handle);
        }
    }

    /// <summary>The node a handle was opened on.</summary>
    public Node? NodeOf(ulong handle)
    {
        lock (_lock) return _handles.TryGetValue(handle, out var node) ? node : null;
    }

    /// <summary>One open handle of the node, if any (fstat arrives without one).</summary>
    public ulong? AnyHandle(Node node)
    {
        lock (_lock) return node.Handles.Count > 0 ? node.Handles[0].Fh : null;
    }

    /// <summary>Whether some handle on the node writes a staged copy: its attributes then differ by handle.</summary>
    public bool HasStaged(Node node)
    {
        lock (_lock) return node.Handles.Exists(h => h.Staged);
    }

    /// <summary>The path the view knows the node by; null once its name is gone (unlinked, replaced).</summary>
    public string? PathOf(Node node)
    {
        lock (_lock)
        {
            if (node.Id == RootId) return "/";
            var names = new Stack<string>();
            for (var n = node; n.Id != RootId; n = n.Parent)
            {
                if (n.Parent is null) return null;
                names.Push(n.Name);
            }
            return "/" + string.Join('/', names);
        }
    }

    /// <summary>A name was removed (unlink, rmdir, renamed over): the node behind it has no path.</summary>
    public Node? Removed(ulong parent, string name)
    {
        lock (_lock)
        {
            if (!_byName.Remove((parent, name), out var node)) return null;
            if (node.Parent?.Id == parent && node.Name == name) node.Parent = null;
            return node;
        }
    }

    /// <summary>A rename through the mount moved (or, exchanging, swapped) two names.</summary>
    public void Renamed(Node fromParent, string fromName, Node toParent, string toName, bool exchange)
    {
        lock (_lock)
        {
            _byName.Remove((fromParent.Id, fromName), out var moved);
            _byName.Remove((toParent.Id, toName), out var target);
            if (moved is not null) Rebind(moved, toParent, toName);
            if (target is null) return;
            if (exchange) Rebind(target, fromParent, fromName);
            else if (target.Parent == toParent && target.Name == toName) target.Parent = null;
        }
    }

    private void Rebind(Node node, Node parent, string name)
    {
        node.Parent = parent;
        node.Name = name;
        _byName[(parent.Id, name)] = node;
        if (node.Key.Name is null) return;
        // A virtual file is the name it is under: the key moves with it.
        if (_byKey.TryGetValue(node.Key, out var keyed) && keyed == node) _byKey.Remove(node.Key);
        node.Key = node.Key with { Parent = parent.Id, Name = name };
        _byKey[node.Key] = node;
    }

    private void Unname(Node node)
    {
        if (node.Parent is { } p && _byName.TryGetValue((p.Id, node.Name), out var named) && named == node)
            _byName.Remove((p.Id, node.Name));
    }
}

/// <summary>
/// What makes two replies the same node: identity and type, or a virtual file's name in its
/// directory's node (so a renamed context's logs are never the logs of a new one by that name).
/// </summary>
internal readonly record struct NodeKey(ulong Device, ulong Inode, long Birth, FileKind Kind, ulong Parent, string? Name)
{
    public static NodeKey Of(in FileAttr attr, ulong parent, string name) => attr.Identity.IsVirtual
        ? new NodeKey(0, 0, 0, attr.Kind, parent, name)
        : new NodeKey(attr.Identity.Device, attr.Identity.Inode, attr.Identity.Birth, attr.Kind, 0, null);
}

/// <summary>One node the kernel holds. Mutable fields change only under the table's lock.</summary>
internal sealed class Node(ulong id, NodeKey key, FileKind kind, Node? parent, string name)
{
    public ulong Id { get; } = id;

    /// <summary>Changes only for a virtual file renamed through the mount (under the table's lock).</summary>
    public NodeKey Key = key;

    /// <summary>Fixed at creation: the kernel fails a node whose type changes.</summary>
    public FileKind Kind { get; } = kind;

    /// <summary>A log: appended to, never replaced.</summary>
    public bool IsLog { get; init; }

    /// <summary>Where it was last seen; Parent null once that name is gone.</summary>
    public Node? Parent = parent;
    public string Name = name;
    public ulong Lookups;

    /// <summary>
    /// A directory's last listing (readdir pages through it by offset); null until listed, and
    /// again once the kernel's copy is dropped (<see cref="Notifier.DropListing(Node)"/>).
    /// </summary>
    public Listing? Listing;

    /// <summary>Its open file handles (few: a list beats a set).</summary>
    public readonly List<OpenHandle> Handles = [];
}

/// <summary>An open handle of a node, and whether it is a staged writer.</summary>
internal readonly record struct OpenHandle(ulong Fh, bool Staged);

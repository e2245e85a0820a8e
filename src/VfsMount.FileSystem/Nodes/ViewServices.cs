using VfsMount.FileSystem.Handles;
using VfsMount.Store;

namespace VfsMount.FileSystem.Nodes;

/// <summary>What every node of one view shares: the store, its refusals, the document commits, the limits, and the change notices to the host.</summary>
internal sealed class ViewServices
{
    public ViewServices(ChibiStore store, Refusals refusals, MountLimits limits)
    {
        Store = store;
        Refusals = refusals;
        Limits = limits;
        Paths = new PathMap(this);
        Attrs = new Attrs(keyByBirth: new DriveInfo(store.Root).DriveFormat != "overlay");
    }

    public ChibiStore Store { get; }
    public Refusals Refusals { get; }
    public MountLimits Limits { get; }
    public PathMap Paths { get; }
    public Attrs Attrs { get; }
    public DocumentCommits Commits { get; } = new();

    /// <summary>Raised with a mount path whose committed content changed (the host drops kernel caches).</summary>
    public event Action<string>? ContentChanged;

    /// <summary>The store rewrote state.json (a context was created, removed or renamed).</summary>
    public void RegistryChanged() => ContentChanged?.Invoke("/state.json");

    /// <summary>A commit replaced the document's content: the host gives the name a new node and drops the old one's cache.</summary>
    public void Changed(string storePath)
    {
        string mountPath = Paths.MountPathOf(storePath);
        var parts = mountPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        Store.Counters.Committed(parts.Length > 1 && parts[0] != PathMap.VfsName ? parts[0] : null);   // a context's document, or the store's
        ContentChanged?.Invoke(mountPath);
    }
}

using VfsMount.Store;
using VfsMount.Store.Contexts;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>
/// Changes made in the store by other programs — chibi, a second daemon, a shell — reach the
/// kernel's caches at once (SPEC §2.6; the 1 s cache timeout is only the fallback): the store
/// root, contexts/, every context directory and its transcript/ are watched, and each event
/// names the mount path whose cached name, attributes or pages are now stale. In-place writes
/// to scratch files and anything in scratch subdirectories are not watched: there the timeout
/// alone bounds staleness.
/// </summary>
internal sealed class StoreWatcher : IDisposable
{
    private readonly ChibiStore _store;
    private readonly Action<string> _changed;
    private readonly Inotify _inotify;

    public StoreWatcher(ChibiStore store, Action<string> changed)
    {
        _store = store;
        _changed = changed;
        _inotify = new Inotify(OnEvent);
        _inotify.Watch(store.Root);
        _inotify.Watch(store.ContextsDir);
        foreach (string context in store.ListContexts()) WatchContext(context);
    }

    private void WatchContext(string context)
    {
        string dir = _store.ContextDir(context);
        _inotify.Watch(dir);
        _inotify.Watch(Path.Combine(dir, PathMap.TranscriptDirName));
    }

    private void OnEvent(string dir, string name, uint mask)
    {
        bool appeared = (mask & (Inotify.InCreate | Inotify.InMovedTo)) != 0;
        bool isDir = (mask & Inotify.InIsDir) != 0;
        // A name came or went: the directory's listing, which the kernel caches, is stale.
        bool renamed = (mask & (Inotify.InCreate | Inotify.InDelete | Inotify.InMovedFrom | Inotify.InMovedTo)) != 0;
        if (dir == _store.Root)
        {
            if (InternalNames.IsInternal(StorePlace.Root, name) || name == "contexts") return;
            _changed("/" + name);
            if (renamed) _changed("/");
        }
        else if (dir == _store.ContextsDir)
        {
            if (!ContextName.IsValid(name)) return;
            if (appeared && isDir) WatchContext(name);
            _changed("/" + name);
            if (renamed) _changed("/");
        }
        else if (Path.GetDirectoryName(dir) == _store.ContextsDir)
        {
            string context = Path.GetFileName(dir);
            if (name == PathMap.TranscriptDirName && appeared && isDir) _inotify.Watch(Path.Combine(dir, name));
            // Names, and the logs' appends: documents are replaced by a rename (a new name
            // target); a scratch file written in place by another program waits for the timeout.
            bool log = PathMap.AlwaysListed.Contains(name);   // appended (or, the inbox, cleared) in place
            if ((!renamed && !log) || InternalNames.IsInternal(StorePlace.ContextTop, name)) return;
            _changed($"/{context}/{name}");
            if (renamed) _changed($"/{context}");
        }
        else if (Path.GetFileName(dir) == PathMap.TranscriptDirName)
        {
            string context = Path.GetFileName(Path.GetDirectoryName(dir)!);
            if (InternalNames.IsInternal(StorePlace.Transcript, name)) return;
            _changed($"/{context}/{PathMap.TranscriptDirName}/{name}");
            if (renamed) _changed($"/{context}/{PathMap.TranscriptDirName}");   // a rotation's new partition
            // An append to active.jsonl or a rotation: the one file of every partition changed.
            _changed($"/{context}/{PathMap.TranscriptName}");
        }
    }

    public void Dispose() => _inotify.Dispose();
}

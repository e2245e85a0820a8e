namespace VfsMount.FileSystem.Handles;

/// <summary>
/// The order of document commits, per target: a logical clock, the last moment each document
/// was committed, renamed over, renamed away or unlinked, and one lock per document that
/// serializes its commits (taken inside a handle's lock; never while replying to the kernel),
/// and the handles staging a copy of each document, found by document, not by a scan of
/// every open handle.
/// </summary>
internal sealed class DocumentCommits
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _last = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lock> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DocumentHandle>> _stages = new(StringComparer.Ordinal);
    private readonly Lock _stagesLock = new();   // innermost: nothing is taken while it is held
    private long _clock;

    public long Now() => Interlocked.Increment(ref _clock);

    public Lock LockOf(string target) => _locks.GetOrAdd(target, _ => new Lock());

    /// <summary>Records that the document's committed content changed now.</summary>
    public void Committed(string target) => _last[target] = Now();

    public bool ChangedSince(string target, long moment) => _last.TryGetValue(target, out long at) && at > moment;

    public void Staged(DocumentHandle handle)
    {
        lock (_stagesLock)
        {
            if (!_stages.TryGetValue(handle.Target, out var list)) _stages[handle.Target] = list = [];
            list.Add(handle);
        }
    }

    public void Unstaged(DocumentHandle handle)
    {
        lock (_stagesLock)
            if (_stages.TryGetValue(handle.Target, out var list) && list.Remove(handle) && list.Count == 0)
                _stages.Remove(handle.Target);
    }

    /// <summary>The handles with a staged copy of the document, until their release is done.</summary>
    public DocumentHandle[] StagesOf(string target)
    {
        lock (_stagesLock) return _stages.TryGetValue(target, out var list) ? [.. list] : [];
    }
}

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// The order of document commits, per target: a logical clock, the last moment each document
/// was committed, renamed over, renamed away or unlinked, and one lock per document that
/// serializes its commits (taken inside a handle's lock; never while replying to the kernel).
/// </summary>
internal sealed class DocumentCommits
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _last = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lock> _locks = new(StringComparer.Ordinal);
    private long _clock;

    public long Now() => Interlocked.Increment(ref _clock);

    public Lock LockOf(string target) => _locks.GetOrAdd(target, _ => new Lock());

    /// <summary>Records that the document's committed content changed now.</summary>
    public void Committed(string target) => _last[target] = Now();

    public bool ChangedSince(string target, long moment) => _last.TryGetValue(target, out long at) && at > moment;
}

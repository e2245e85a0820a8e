using System.Collections.Concurrent;

namespace VfsMount.Store;

/// <summary>
/// What happened since this process opened the store, in total and per context: appends,
/// commits, rotations, refusals, quarantined items. Lock-free (Interlocked, and a concurrent
/// dictionary whose lookups of a known context take no lock), so counting costs the append path
/// nothing it would notice. Exact: each counted event is counted once.
/// </summary>
public sealed class MountCounters
{
    private readonly ConcurrentDictionary<string, ActivityCounters> _contexts = new(StringComparer.Ordinal);

    public DateTimeOffset Since { get; } = DateTimeOffset.UtcNow;
    public ActivityCounters Total { get; } = new();

    /// <summary>The counters of one context (made at its first event).</summary>
    public ActivityCounters Context(string name) => _contexts.GetOrAdd(name, static _ => new ActivityCounters());

    public IEnumerable<KeyValuePair<string, ActivityCounters>> Contexts => _contexts;

    public void Appended(string context, int lines, long bytes)
    {
        Total.Appended(lines, bytes);
        Context(context).Appended(lines, bytes);
    }

    public void Committed(string? context)
    {
        Total.Committed();
        if (!string.IsNullOrEmpty(context)) Context(context).Committed();
    }

    public void Rotated(string context)
    {
        Total.Rotated();
        Context(context).Rotated();
    }

    public void Refused(string? context, string errnoName)
    {
        Total.Refused(errnoName);
        if (!string.IsNullOrEmpty(context)) Context(context).Refused(errnoName);
    }

    public void Quarantined(string? context, long bytes)
    {
        Total.Quarantined(bytes);
        if (!string.IsNullOrEmpty(context)) Context(context).Quarantined(bytes);
    }
}

/// <summary>One set of counters; every field is updated with Interlocked and read as a snapshot.</summary>
public sealed class ActivityCounters
{
    private readonly ConcurrentDictionary<string, StrongBox> _refusals = new(StringComparer.Ordinal);
    private long _appends, _appendBytes, _commits, _rotations, _quarantineItems, _quarantineBytes;

    public long Appends => Interlocked.Read(ref _appends);
    public long AppendBytes => Interlocked.Read(ref _appendBytes);
    public long Commits => Interlocked.Read(ref _commits);
    public long Rotations => Interlocked.Read(ref _rotations);
    public long QuarantineItems => Interlocked.Read(ref _quarantineItems);
    public long QuarantineBytes => Interlocked.Read(ref _quarantineBytes);

    /// <summary>Refusals by errno name ("EINVAL" → 2), in name order.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Refusals =>
        _refusals.Select(r => KeyValuePair.Create(r.Key, Interlocked.Read(ref r.Value.Count))).OrderBy(r => r.Key, StringComparer.Ordinal).ToList();

    internal void Appended(int lines, long bytes)
    {
        Interlocked.Add(ref _appends, lines);
        Interlocked.Add(ref _appendBytes, bytes);
    }

    internal void Committed() => Interlocked.Increment(ref _commits);
    internal void Rotated() => Interlocked.Increment(ref _rotations);
    internal void Refused(string errnoName) => Interlocked.Increment(ref _refusals.GetOrAdd(errnoName, static _ => new StrongBox()).Count);

    internal void Quarantined(long bytes)
    {
        Interlocked.Increment(ref _quarantineItems);
        Interlocked.Add(ref _quarantineBytes, bytes);
    }

    private sealed class StrongBox
    {
        public long Count;
    }
}

using VfsMount.Store.Json;
using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// A context's inbox.jsonl: appends under .inbox.lock, like chibi. chibi's read-and-clear
/// truncates it in place under the same lock, so its size can shrink between our calls.
/// The lock file and inbox.jsonl stay open between appends (<see cref="HeldLog"/>).
/// </summary>
public sealed class InboxLog(string contextDir, string context, Quarantine quarantine)
{
    // Lock order: _gate, then the flock of .inbox.lock.
    private readonly Lock _gate = new();
    private HeldLog? _held;
    private volatile bool _retired;

    public string Path { get; } = System.IO.Path.Combine(contextDir, "inbox.jsonl");
    public string LockPath { get; } = System.IO.Path.Combine(contextDir, ".inbox.lock");

    /// <summary>Appends the entries as one unit, fsync'd when it returns.</summary>
    public void Append(IReadOnlyList<CompletedEntry> entries)
    {
        if (entries.Count == 0) return;
        using var lines = CompletedLines.From(entries);
        Append(lines);
    }

    /// <summary>Appends the lines as one unit, fsync'd when it returns.</summary>
    public void Append(CompletedLines lines)
    {
        if (lines.Count == 0) return;
        lock (_gate)
        {
            try
            {
                _held ??= new HeldLog(LockPath, Path);
                if (!_held.TryLockHeld()) _held.LockByName();   // ENOENT once the context is gone: never recreated
                try
                {
                    // The size is read under the lock: chibi may have cleared the inbox since.
                    var file = _held.Log(out var st) ?? _held.CreateLog(() => FileOwner.For(Path), out st);
                    LineAppender.Append(file, st.Size, tailKnown: false, Path, lines.Bytes, quarantine, context);
                }
                finally
                {
                    _held.Unlock();
                }
            }
            finally
            {
                if (_retired)
                {
                    _held?.Dispose();
                    _held = null;
                }
            }
        }
    }

    /// <summary>As <see cref="Transcript.TranscriptLog.Retire"/>: the context moved; never waits for an append in progress.</summary>
    public void Retire()
    {
        _retired = true;
        if (!_gate.TryEnter()) return;
        try
        {
            _held?.Dispose();
            _held = null;
        }
        finally
        {
            _gate.Exit();
        }
    }
}

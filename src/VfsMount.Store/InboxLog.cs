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
    private readonly HeldLogSlot _held = new(System.IO.Path.Combine(contextDir, ".inbox.lock"), System.IO.Path.Combine(contextDir, "inbox.jsonl"));

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
        _held.Append(held =>
        {
            if (!held.TryLockHeld()) held.LockByName();   // ENOENT once the context is gone: never recreated
            try
            {
                // The size is read under the lock: chibi may have cleared the inbox since.
                var file = held.Log(out var st) ?? held.CreateLog(() => FileOwner.For(Path), out st);
                LineAppender.Append(file, st.Size, tailKnown: false, Path, lines.Bytes, quarantine, context);
            }
            finally
            {
                held.Unlock();
            }
        });
    }

    /// <summary>This process renamed or removed the context: the descriptors held for appends go (<see cref="HeldLogSlot.Retire"/>).</summary>
    public void Retire() => _held.Retire();
}

using VfsMount.Store.Json;
using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// A context's inbox.jsonl: appends under .inbox.lock, like chibi. chibi's read-and-clear
/// truncates it in place under the same lock, so its size can shrink between our calls.
/// </summary>
public sealed class InboxLog(string contextDir, string context, Quarantine quarantine)
{
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
        using var held = FileLock.Acquire(LockPath);
        LineAppender.Append(Path, lines.Bytes, quarantine, context);
    }
}

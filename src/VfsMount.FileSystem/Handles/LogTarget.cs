using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>Where a log handle's lines go: validation, completion and the locked append of one log.</summary>
internal abstract class LogTarget(string context, string fileName)
{
    public string Context { get; } = context;
    public string FileName { get; } = fileName;

    public abstract long Length { get; }

    public abstract int Read(Span<byte> buffer, long offset);

    /// <summary>
    /// Validates and completes one line (no '\n') into lines, as its next line; throws
    /// StoreException (EINVAL) when refused, lines then as they were.
    /// </summary>
    public abstract void Complete(ReadOnlySpan<byte> line, string from, ulong now, CompletedLines lines);

    /// <summary>Appends all lines as one durable unit; throws StoreException on failure.</summary>
    public abstract void Append(CompletedLines lines);

    /// <summary>The mount path a kernel cache of this log is keyed by.</summary>
    public string MountPath => $"/{Context}/{FileName}";

    /// <summary>Its handle was released: what it kept open goes.</summary>
    public virtual void Release()
    {
    }
}

internal sealed class TranscriptTarget(ChibiStore store, string context) : LogTarget(context, PathMap.TranscriptName)
{
    private readonly Store.Transcript.TranscriptLog _log = store.Transcript(context);
    private readonly Store.Transcript.PartitionFiles _partitions = new();

    public override long Length => _log.Length;
    public override int Read(Span<byte> buffer, long offset) => _log.Read(buffer, offset, _partitions);
    public override void Release() => _partitions.Dispose();
    public override void Complete(ReadOnlySpan<byte> line, string from, ulong now, CompletedLines lines) => EntryCompleter.CompleteTranscript(line, Context, from, now, lines);
    public override void Append(CompletedLines lines) => _log.Append(lines);
}

/// <summary>inbox.jsonl and transcript.md: plain files of the context directory.</summary>
internal class PlainLogTarget(ChibiStore store, string path, string context, string fileName) : LogTarget(context, fileName)
{
    protected string Path { get; } = path;
    protected ChibiStore Store { get; } = store;

    public override long Length => FileStatus.Lstat(Path, out var st) == 0 ? st.Size : 0;

    public override int Read(Span<byte> buffer, long offset)
    {
        int errno = PosixFile.Open(Path, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
        if (errno == Errno.ENOENT) return 0;
        if (errno != 0) throw new PosixException(errno, Path);
        using (file)
        {
            long n = file!.ReadAt(buffer, offset);
            return n >= 0 ? (int)n : throw new PosixException((int)-n, Path);
        }
    }

    public override void Complete(ReadOnlySpan<byte> line, string from, ulong now, CompletedLines lines)
    {
        if (!System.Text.Unicode.Utf8.IsValid(line)) throw new StoreException(Errno.EINVAL, "a line of transcript.md must be UTF-8 text");
        line.CopyTo(lines.GetSpan(line.Length));
        lines.Advance(line.Length);
        lines.EndLine(now, 0, false);
    }

    /// <summary>transcript.md: chibi appends without a lock, the mount under one of its own, never cut back (<see cref="TextLog"/>).</summary>
    public override void Append(CompletedLines lines) => Store.TextLog(Context).Append(lines.Bytes);
}

internal sealed class InboxTarget(ChibiStore store, string context) : PlainLogTarget(store, store.Inbox(context).Path, context, PathMap.InboxName)
{
    public override void Complete(ReadOnlySpan<byte> line, string from, ulong now, CompletedLines lines) => EntryCompleter.CompleteInbox(line, Context, from, now, lines);
    public override void Append(CompletedLines lines) => Store.Inbox(Context).Append(lines);
}

using VfsMount.FileSystem.Handles;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>
/// A log (SPEC §2.1): read as stored, written only by appending whole, validated lines; never
/// truncated, removed or replaced. Its attributes are never cached (every append changes them).
/// </summary>
internal abstract class LogNode(ViewServices view, string path, string context, string? storePath)
    : VfsNode(view, path, context, storePath), IOpen, ITruncate, IUnlink, ISetAttr
{
    /// <summary>Where its handles' lines go.</summary>
    protected abstract LogTarget Target();

    /// <summary>Whether readers may keep its pages: only where bytes never change once written.</summary>
    protected virtual bool PagesStay => false;

    public int Open(OpenFlags flags, uint mode, Caller caller, bool create, out Opened opened)
    {
        opened = default;
        bool writing = (flags & (OpenFlags.Write | OpenFlags.ReadWrite)) != 0;
        if (create && (flags & OpenFlags.Exclusive) != 0) return Errno.EEXIST;
        if ((flags & OpenFlags.Truncate) != 0 && writing) return Refuse(Errno.EPERM, "logs cannot be truncated");
        var handle = new LogHandle(Target(), (flags & OpenFlags.Append) != 0, UserNames.Of(caller.Uid), View.Refusals,
            View.Limits.MaxLineBytes, View.Store.Counters);
        // Writers go past the page cache; readers keep it where the bytes never change (the
        // kernel drops it when the size changes).
        bool directIo = writing || !PagesStay;
        opened = new Opened(handle, directIo, KeepCache: !directIo);
        return 0;
    }

    public int Truncate(long size) => Refuse(Errno.EPERM, "logs cannot be truncated");

    public int Unlink() => Refuse(Errno.EPERM, "logs cannot be removed");

    public abstract int SetAttr(Func<string, int> apply, int noFileYet);

    /// <summary>Attributes of a log: those of the file behind it, its own size, one node whatever file backs it.</summary>
    protected static int AsLog(int errno, ref FileAttr attr)
    {
        attr.Identity = default;
        attr.IsLog = true;
        return errno;
    }
}

/// <summary>transcript.jsonl: every partition in manifest order, then the active one, as one file.</summary>
internal sealed class TranscriptNode(ViewServices view, string path, string context) : LogNode(view, path, context, null)
{
    protected override LogTarget Target() => new TranscriptTarget(View.Store, Context!);

    /// <summary>Its bytes never change once written (rotation is invisible to readers).</summary>
    protected override bool PagesStay => true;

    /// <summary>Presents the active partition's owner and mode (or, before one exists, the newest partition's, else transcript/'s).</summary>
    public override int GetAttr(out FileAttr attr)
    {
        var transcript = View.Store.Transcript(Context!);
        long length = transcript.Measure(out var active);
        int e = active is { } st ? View.Attrs.Fill(st, out attr)
            : transcript.OwnerFile() is { } owner && FileStatus.Lstat(owner, out var ost) == 0 ? View.Attrs.Fill(ost, out attr)
            : Attrs.Behind(Path.Combine(View.Store.ContextDir(Context!), PathMap.TranscriptDirName), 0, out attr);
        attr.Size = length;
        return AsLog(e, ref attr);   // the partitions change under one virtual file
    }

    public override int SetAttr(Func<string, int> apply, int noFileYet) =>
        View.Store.Transcript(Context!).OwnerFile() is { } file ? apply(file) : noFileYet;
}

/// <summary>inbox.jsonl and transcript.md: one plain file of the context directory, made by the first append.</summary>
internal sealed class PlainLogNode(ViewServices view, string path, string context, string storePath, bool inbox)
    : LogNode(view, path, context, storePath)
{
    protected override LogTarget Target() => inbox
        ? new InboxTarget(View.Store, Context!)
        : new PlainLogTarget(View.Store, StorePath!, Context!, PathMap.TextLogName);

    public override int GetAttr(out FileAttr attr)
    {
        bool exists = FileStatus.Lstat(StorePath!, out var lst) == 0;
        if (exists && !lst.IsRegular)
        {
            attr = default;
            return Planted(lst);
        }
        int e = exists ? View.Attrs.Fill(lst, out attr) : Attrs.Behind(Path.GetDirectoryName(StorePath!)!, 0, out attr);
        return AsLog(e, ref attr);   // one node whether or not its file exists yet
    }

    public override int SetAttr(Func<string, int> apply, int noFileYet) =>
        FileStatus.Lstat(StorePath!, out _) == 0 ? apply(StorePath!) : noFileYet;
}

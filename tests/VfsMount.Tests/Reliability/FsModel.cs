using System.Text;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// What one operation returned: an errno, or success with a count (Value), bytes read, or the
/// `content` of every entry of a log. Violation: the driver saw something wrong by itself (a
/// log's bytes changed under a reader, a log line that is not JSON).
/// </summary>
internal sealed record Outcome(int Errno, long Value = 0, byte[]? Bytes = null, IReadOnlyList<string>? Contents = null, string? Violation = null)
{
    public static Outcome Ok(long value = 0) => new(0, value);

    public static Outcome Fail(int errno) => new(errno);

    public static Outcome Read(byte[] bytes) => new(0, bytes.Length, bytes);

    /// <summary>Null when they agree, else what differs.</summary>
    public static string? Difference(Outcome expected, Outcome actual)
    {
        if (actual.Violation is not null) return actual.Violation;
        if (expected.Errno != actual.Errno) return $"expected {Describe(expected)}, got {Describe(actual)}";
        if (expected.Errno != 0) return null;
        if (expected.Value != actual.Value && expected.Bytes is null) return $"expected {Describe(expected)}, got {Describe(actual)}";
        if (expected.Bytes is { } eb)
        {
            var ab = actual.Bytes ?? [];
            int at = eb.AsSpan().CommonPrefixLength(ab);
            if (at != eb.Length || eb.Length != ab.Length)
                return $"bytes differ at {at}: expected {eb.Length} B ({Around(eb, at)}), got {ab.Length} B ({Around(ab, at)})";
        }
        if (expected.Contents is { } ec)
        {
            var ac = actual.Contents ?? [];
            if (!ec.SequenceEqual(ac))
                return $"log contents differ: expected [{string.Join(", ", ec.TakeLast(6))}] ({ec.Count}), got [{string.Join(", ", ac.TakeLast(6))}] ({ac.Count})";
        }
        return null;
    }

    private static string Describe(Outcome o) => o.Errno != 0 ? $"errno {Errnos.Name(o.Errno)}" : $"ok {o.Value}";

    private static string Around(byte[] b, int at) =>
        at >= b.Length ? "end" : Op.Show(b.AsSpan(at, Math.Min(24, b.Length - at)).ToArray());
}

internal static class Errnos
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, EACCES = 13, ENODEV = 19, EINVAL = 22;

    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EBADF => "EBADF", EACCES => "EACCES", ENODEV => "ENODEV", EINVAL => "EINVAL",
        _ => errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>A file's bytes as the store holds them; names and open handles refer to it (POSIX inodes).</summary>
internal sealed class ModelFile(byte[] data)
{
    public byte[] Data { get; set; } = data;

    public void WriteAt(long offset, byte[] bytes) => Data = ModelBytes.WriteAt(Data, offset, bytes);
}

internal static class ModelBytes
{
    public static byte[] WriteAt(byte[] data, long offset, byte[] bytes)
    {
        var result = data;
        if (offset + bytes.Length > data.Length)
        {
            result = new byte[offset + bytes.Length];
            data.CopyTo(result, 0);
        }
        bytes.CopyTo(result, offset);
        return result;
    }

    public static byte[] Resize(byte[] data, long size)
    {
        var result = new byte[size];
        data.AsSpan(0, (int)Math.Min(size, data.Length)).CopyTo(result);
        return result;
    }

    public static byte[] Slice(byte[] data, long offset, int length) =>
        offset >= data.Length ? [] : data.AsSpan((int)offset, (int)Math.Min(length, data.Length - offset)).ToArray();

    public static bool IsUtf8(byte[] data)
    {
        try
        {
            _ = new UTF8Encoding(false, true).GetString(data);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}

internal abstract class ModelHandle(string name, int flags)
{
    public string Name { get; } = name;
    public bool Readable { get; } = PosixOpenFlags.Readable(flags);
    public bool Writable { get; } = PosixOpenFlags.Writable(flags);
    public bool Append { get; } = (flags & PosixOpenFlags.Append) != 0;
}

/// <summary>
/// A scratch file, or a document opened read-only: the file it reads, shared with every other
/// handle on it. A read-only document handle keeps the committed file it opened until it closes
/// (SPEC §2.2 "Identity": a commit is a new file; readers opened before keep the old bytes).
/// </summary>
internal sealed class ModelFileHandle(string name, int flags, ModelFile file) : ModelHandle(name, flags)
{
    public ModelFile File { get; } = file;
}

/// <summary>
/// A document opened for writing: its private staged copy, whether it changed since its last
/// commit, and when it last changed (its open, a write, a truncate: the model's clock).
/// </summary>
internal sealed class ModelStagedHandle(string name, int flags, byte[] staged, bool dirty, long changedAt, ModelFile? openedOn) : ModelHandle(name, flags)
{
    /// <summary>The committed file when it was opened: the kernel's node of its descriptor.</summary>
    public ModelFile? OpenedOn { get; } = openedOn;
    public byte[] Staged { get; set; } = staged;
    public bool Dirty { get; set; } = dirty;
    public long ChangedAt { get; set; } = changedAt;
}

internal sealed class ModelLogHandle(string name, int flags) : ModelHandle(name, flags);

/// <summary>
/// SPEC §2 as an in-memory model of one context. Logs are lists of entry contents (the mount
/// completes each line with id, timestamp and from); documents are a committed file per name
/// plus a private staged copy per writing handle, committed whole at close when it changed;
/// scratch names are plain POSIX files. Apply returns what each operation must return.
/// </summary>
internal sealed class FsModel
{
    public const int Slots = 6;
    public static readonly string[] Documents = ["summary.md", "todos.md"];
    public static readonly string[] Scratch = ["notes.txt", "data.bin"];
    public static readonly string[] Logs = ["transcript.jsonl", "inbox.jsonl"];
    public static readonly string[] All = [.. Documents, .. Scratch, .. Logs];

    private readonly Dictionary<string, ModelFile?> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _logs = new(StringComparer.Ordinal)
    {
        ["transcript.jsonl"] = ["Context created"],   // the anchor written by mkdir
        ["inbox.jsonl"] = [],
    };
    private readonly ModelHandle?[] _slots = new ModelHandle?[Slots];
    private long _clock;

    public FsModel()
    {
        foreach (var n in Documents.Concat(Scratch)) _names[n] = null;
    }

    public static bool IsDocument(string name) => Documents.Contains(name);

    public static bool IsScratch(string name) => Scratch.Contains(name);

    public static bool IsLog(string name) => Logs.Contains(name);

    public ModelHandle? Handle(int slot) => _slots[slot];

    public bool Exists(string name) => IsLog(name) || _names[name] is not null;

    /// <summary>A document that exists only as a writing handle's staged copy (created, not committed yet).</summary>
    public bool StagedOnly(string name) =>
        IsDocument(name) && _names[name] is null && _slots.Any(h => h is ModelStagedHandle s && s.Name == name);

    /// <summary>Whether an open handle reads or writes the file the name refers to.</summary>
    public bool InUse(string name) => _names.GetValueOrDefault(name) is { } f && _slots.Any(h => h is ModelFileHandle fh && fh.File == f);

    /// <summary>The size of what the handle reads and writes (logs: 0, the generator does not need it).</summary>
    public long HandleSize(int slot) => _slots[slot] switch
    {
        ModelFileHandle f => f.File.Data.Length,
        ModelStagedHandle s => s.Staged.Length,
        _ => 0,
    };

    public Outcome Apply(Op op) => op.Kind switch
    {
        OpKind.Open => Open(op),
        OpKind.Close => Close(op.Slot),
        OpKind.Read => Read(op),
        OpKind.Write => Write(_slots[op.Slot]!, op.Offset, op.Data!),
        OpKind.Truncate => Truncate(op),
        OpKind.Mmap => Mmap(op.Slot),
        OpKind.Stat => _names[op.File] is { } f ? Outcome.Ok(StatSize(op.File, f)) : Outcome.Fail(Errnos.ENOENT),
        OpKind.Fstat => Outcome.Ok(HandleSize(op.Slot)),
        OpKind.ReadFile => _names[op.File] is { } g ? Outcome.Read(g.Data) : Outcome.Fail(Errnos.ENOENT),
        OpKind.Rename => Rename(op.File, op.Target),
        OpKind.Unlink => Unlink(op.File),
        OpKind.LogWrite => LogWrite(op),
        OpKind.LogRead => new Outcome(0, Contents: _logs[_slots[op.Slot]!.Name].ToArray()),
        _ => throw new InvalidOperationException(op.ToString()),
    };

    /// <summary>
    /// stat of a name: a document that handles stage changes to shows the copy changed last, to
    /// everyone, as an in-place write would (README: Decisions); else the committed file.
    /// </summary>
    private long StatSize(string name, ModelFile committed) =>
        _slots.OfType<ModelStagedHandle>().Where(h => h.Name == name && h.Dirty).MaxBy(h => h.ChangedAt) is { } latest
            ? latest.Staged.Length : committed.Data.Length;

    /// <summary>
    /// Whether fstat of the slot has one answer the model knows: a scratch file's handle, or a
    /// writing document handle alone on its document while the name still holds the committed
    /// file it opened (fstat reaches the node, which every handle on that file shares). Not
    /// after an unlink or a commit by another handle: a writer does not hold the committed file
    /// open, so its inode number can be reused by a new file, which the host's node table then
    /// takes for the same node (README: Decisions).
    /// </summary>
    public bool FstatKnown(int slot) => _slots[slot] switch
    {
        ModelFileHandle f => IsScratch(f.Name),
        ModelStagedHandle s => _names[s.Name] is { } f && f == s.OpenedOn && _slots.Count(h => h?.Name == s.Name) == 1,
        _ => false,
    };

    private Outcome Open(Op op)
    {
        string name = op.File;
        int flags = op.Flags;
        bool writing = PosixOpenFlags.Writable(flags), truncate = (flags & PosixOpenFlags.Truncate) != 0, create = (flags & PosixOpenFlags.Create) != 0;
        ModelHandle handle;
        if (IsLog(name))
        {
            if (truncate && writing) return Outcome.Fail(Errnos.EPERM);
            handle = new ModelLogHandle(name, flags);
        }
        else if (IsDocument(name))
        {
            var committed = _names[name];
            if (!writing)
            {
                if (committed is null) return Outcome.Fail(Errnos.ENOENT);
                handle = new ModelFileHandle(name, flags, committed);
            }
            else
            {
                // Created but not committed by another handle: the name exists (stat shows it), so a
                // writing open of it works with or without O_CREAT (the kernel drops O_CREAT for a name it sees).
                if (committed is null && !create && !StagedOnly(name)) return Outcome.Fail(Errnos.ENOENT);
                byte[] staged = committed is not null && !truncate ? (byte[])committed.Data.Clone() : [];
                bool dirty = committed is null || (truncate && committed.Data.Length > 0);
                handle = new ModelStagedHandle(name, flags, staged, dirty, ++_clock, committed);
            }
        }
        else
        {
            var file = _names[name];
            if (file is null)
            {
                if (!create) return Outcome.Fail(Errnos.ENOENT);
                _names[name] = file = new ModelFile([]);
            }
            else if (truncate && writing)
            {
                file.Data = [];
            }
            handle = new ModelFileHandle(name, flags, file);
        }
        _slots[op.Slot] = handle;
        return op.Data is null ? Outcome.Ok() : Write(handle, 0, op.Data);
    }

    private Outcome Close(int slot)
    {
        var h = _slots[slot]!;
        _slots[slot] = null;
        if (h is not ModelStagedHandle { Dirty: true } s) return Outcome.Ok();
        if (!ModelBytes.IsUtf8(s.Staged)) return Outcome.Fail(Errnos.EINVAL);   // the committed document stays
        var committed = new ModelFile((byte[])s.Staged.Clone());
        _names[s.Name] = committed;
        return Outcome.Ok();
    }

    private Outcome Read(Op op)
    {
        var h = _slots[op.Slot]!;
        if (!h.Readable) return Outcome.Fail(Errnos.EBADF);
        if (h is ModelStagedHandle s) return Outcome.Read(ModelBytes.Slice(s.Staged, op.Offset, op.Length));
        return Outcome.Read(ModelBytes.Slice(((ModelFileHandle)h).File.Data, op.Offset, op.Length));
    }

    private Outcome Write(ModelHandle h, long offset, byte[] data)
    {
        if (!h.Writable) return Outcome.Fail(Errnos.EBADF);
        switch (h)
        {
            case ModelStagedHandle s:
                s.Staged = ModelBytes.WriteAt(s.Staged, s.Append ? s.Staged.Length : offset, data);
                s.Dirty = true;
                s.ChangedAt = ++_clock;
                break;
            case ModelFileHandle f:
                f.File.WriteAt(f.Append ? f.File.Data.Length : offset, data);
                break;
        }
        return Outcome.Ok(data.Length);
    }

    private Outcome Truncate(Op op)
    {
        var h = _slots[op.Slot]!;
        if (!h.Writable) return Outcome.Fail(Errnos.EINVAL);   // ftruncate needs a descriptor open for writing
        switch (h)
        {
            case ModelLogHandle:
                return Outcome.Fail(Errnos.EPERM);
            case ModelStagedHandle s:
                s.Staged = ModelBytes.Resize(s.Staged, op.Offset);
                s.Dirty = true;
                s.ChangedAt = ++_clock;
                break;
            case ModelFileHandle f:
                f.File.Data = ModelBytes.Resize(f.File.Data, op.Offset);
                break;
        }
        return Outcome.Ok();
    }

    /// <summary>Read-only document handles and scratch files map; a writing document handle is direct_io: ENODEV.</summary>
    private Outcome Mmap(int slot)
    {
        return _slots[slot] is ModelFileHandle f ? Outcome.Read(f.File.Data) : Outcome.Fail(Errnos.ENODEV);
    }

    private Outcome Rename(string from, string to)
    {
        if (IsLog(from) || IsLog(to)) return IsLog(from) || _names[from] is not null ? Outcome.Fail(Errnos.EPERM) : Outcome.Fail(Errnos.ENOENT);
        var file = _names[from];
        if (file is null) return Outcome.Fail(Errnos.ENOENT);
        // Over a document: a commit of the file's content, validated first.
        if (IsDocument(to) && !ModelBytes.IsUtf8(file.Data)) return Outcome.Fail(Errnos.EINVAL);
        _names[to] = file;
        _names[from] = null;
        return Outcome.Ok();
    }

    private Outcome Unlink(string name)
    {
        if (IsLog(name)) return Outcome.Fail(Errnos.EPERM);
        if (_names[name] is null) return Outcome.Fail(Errnos.ENOENT);
        _names[name] = null;
        return Outcome.Ok();
    }

    private Outcome LogWrite(Op op)
    {
        var h = _slots[op.Slot]!;
        if (!h.Writable) return Outcome.Fail(Errnos.EBADF);
        var log = _logs[h.Name];
        // O_APPEND: every write appends. Otherwise only a write at the end appends; anywhere else is EPERM.
        bool atEnd = h.Append || op.At == LogAt.End || (op.At == LogAt.Zero && log.Count == 0);
        if (!atEnd) return Outcome.Fail(Errnos.EPERM);
        log.AddRange(op.Contents!);
        return Outcome.Ok(op.Data!.Length);
    }
}

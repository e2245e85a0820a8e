using System.Globalization;
using System.Text;

namespace VfsMount.Tests.Reliability;

/// <summary>The operations of the model test: each is one syscall (or a short fixed sequence) on the mount.</summary>
internal enum OpKind
{
    /// <summary>open(File, Flags) into Slot; with Data, a pwrite of Data at 0 right after (so O_TRUNC/O_CREAT staging is always written).</summary>
    Open,
    /// <summary>close(Slot): a document handle that changed its staged copy commits here.</summary>
    Close,
    /// <summary>pread(Slot, Length, Offset).</summary>
    Read,
    /// <summary>pwrite(Slot, Data, Offset).</summary>
    Write,
    /// <summary>ftruncate(Slot, Offset).</summary>
    Truncate,
    /// <summary>mmap(PROT_READ, MAP_SHARED) of the whole of Slot's file, copied out, munmap.</summary>
    Mmap,
    /// <summary>statx(File): its size, or the errno.</summary>
    Stat,
    /// <summary>fstat(Slot): its size (xfstests' fsx checks it after every ftruncate).</summary>
    Fstat,
    /// <summary>open(File, O_RDONLY), pread to the end, close: what a fresh reader sees.</summary>
    ReadFile,
    /// <summary>rename(File, Target).</summary>
    Rename,
    /// <summary>unlink(File).</summary>
    Unlink,
    /// <summary>pwrite of complete JSON lines (Data, whose contents are Contents) to the log of Slot at LogAt.</summary>
    LogWrite,
    /// <summary>pread of the whole log of Slot from 0; compared as the list of the entries' `content`.</summary>
    LogRead,
}

/// <summary>Where a log write lands: the offset the test passes to pwrite.</summary>
internal enum LogAt
{
    /// <summary>The log's size (lseek SEEK_END on the handle): a plain append.</summary>
    End,
    /// <summary>Offset 0: the start, which is the end only while the log is empty.</summary>
    Zero,
    /// <summary>Offset 1: always inside the log (or past the end of an empty one).</summary>
    One,
}

internal sealed record Op(
    OpKind Kind,
    int Slot = -1,
    string File = "",
    string Target = "",
    int Flags = 0,
    long Offset = 0,
    int Length = 0,
    byte[]? Data = null,
    LogAt At = LogAt.End,
    string[]? Contents = null)
{
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        return Kind switch
        {
            OpKind.Open => string.Create(c, $"open [{Slot}] {File} {PosixOpenFlags.Describe(Flags)}{(Data is null ? "" : $" then pwrite {Show(Data)} at 0")}"),
            OpKind.Close => string.Create(c, $"close [{Slot}]"),
            OpKind.Read => string.Create(c, $"pread [{Slot}] {Length} B at {Offset}"),
            OpKind.Write => string.Create(c, $"pwrite [{Slot}] {Show(Data!)} at {Offset}"),
            OpKind.Truncate => string.Create(c, $"ftruncate [{Slot}] to {Offset}"),
            OpKind.Mmap => string.Create(c, $"mmap-read [{Slot}]"),
            OpKind.Stat => $"stat {File}",
            OpKind.Fstat => string.Create(c, $"fstat [{Slot}]"),
            OpKind.ReadFile => $"read-whole {File}",
            OpKind.Rename => $"rename {File} -> {Target}",
            OpKind.Unlink => $"unlink {File}",
            OpKind.LogWrite => string.Create(c, $"log-pwrite [{Slot}] at {At} {Contents!.Length} line(s) {Show(Data!)}"),
            OpKind.LogRead => string.Create(c, $"log-read [{Slot}]"),
            _ => Kind.ToString(),
        };
    }

    /// <summary>A short, printable rendering of written bytes: length and the first characters.</summary>
    public static string Show(byte[] data)
    {
        var sb = new StringBuilder();
        foreach (byte b in data.Take(40)) sb.Append(b is >= 0x20 and < 0x7F and not (byte)'\\' ? (char)b : b == '\n' ? "\\n" : $"\\x{b:x2}");
        return string.Create(CultureInfo.InvariantCulture, $"{data.Length} B \"{sb}{(data.Length > 40 ? "…" : "")}\"");
    }
}

/// <summary>open(2) flags as Linux defines them (the same on x86-64 and arm64).</summary>
internal static class PosixOpenFlags
{
    public const int ReadOnly = 0, WriteOnly = 1, ReadWrite = 2, AccessMask = 3;
    public const int Create = 0x40, Truncate = 0x200, Append = 0x400, CloseOnExec = 0x80000;

    public static bool Readable(int flags) => (flags & AccessMask) != WriteOnly;

    public static bool Writable(int flags) => (flags & AccessMask) != ReadOnly;

    public static string Describe(int flags)
    {
        var parts = new List<string> { (flags & AccessMask) switch { ReadOnly => "O_RDONLY", WriteOnly => "O_WRONLY", _ => "O_RDWR" } };
        if ((flags & Create) != 0) parts.Add("O_CREAT");
        if ((flags & Truncate) != 0) parts.Add("O_TRUNC");
        if ((flags & Append) != 0) parts.Add("O_APPEND");
        return string.Join('|', parts);
    }
}

/// <summary>
/// The seeded generator: each operation is drawn from the model's current state (which slots
/// hold which handles, which names exist), so the same seed always gives the same sequence, and
/// every prefix of it is a valid sequence of its own (what the shrinker re-runs).
/// </summary>
internal static class FsGenerator
{
    private static bool Readable(ModelHandle h) => h is not ModelLogHandle && h.Readable;

    public static List<Op> Generate(int seed, int count)
    {
        var rng = new Random(seed);
        var model = new FsModel();
        var ops = new List<Op>(count);
        for (int i = 0; i < count; i++)
        {
            var op = Next(rng, model, i);
            model.Apply(op);
            ops.Add(op);
        }
        return ops;
    }

    private static Op Next(Random rng, FsModel model, int index)
    {
        while (true)
        {
            var op = rng.Next(100) switch
            {
                < 16 => OpenOp(rng, model, index),
                < 26 => AnySlot(rng, model, h => true) is { } s ? new Op(OpKind.Close, s) : null,
                < 38 => ReadOp(rng, model),
                < 54 => WriteOp(rng, model, index),
                < 59 => TruncateOp(rng, model),
                < 64 => AnySlot(rng, model, Readable) is { } s ? new Op(OpKind.Mmap, s) : null,
                < 66 => PathOp(rng, model, OpKind.Stat),
                < 68 => AnySlot(rng, model, _ => true) is { } s && model.FstatKnown(s) ? new Op(OpKind.Fstat, s) : null,
                < 73 => PathOp(rng, model, OpKind.ReadFile),
                < 79 => RenameOp(rng, model),
                < 82 => PathOp(rng, model, OpKind.Unlink),
                < 94 => LogWriteOp(rng, model, index),
                _ => AnySlot(rng, model, h => h is ModelLogHandle && h.Readable) is { } s ? new Op(OpKind.LogRead, s) : null,
            };
            if (op is not null) return op;
        }
    }

    private static int? AnySlot(Random rng, FsModel model, Func<ModelHandle, bool> fits)
    {
        var slots = Enumerable.Range(0, FsModel.Slots).Where(i => model.Handle(i) is { } h && fits(h)).ToArray();
        return slots.Length == 0 ? null : slots[rng.Next(slots.Length)];
    }

    private static string Pick(Random rng, string[] names) => names[rng.Next(names.Length)];

    private static Op? OpenOp(Random rng, FsModel model, int index)
    {
        var free = Enumerable.Range(0, FsModel.Slots).Where(i => model.Handle(i) is null).ToArray();
        if (free.Length == 0) return null;
        int slot = free[rng.Next(free.Length)];
        int kind = rng.Next(100);
        string file = kind < 40 ? Pick(rng, FsModel.Documents) : kind < 75 ? Pick(rng, FsModel.Scratch) : Pick(rng, FsModel.Logs);
        int flags = rng.Next(3) switch { 0 => PosixOpenFlags.ReadOnly, 1 => PosixOpenFlags.WriteOnly, _ => PosixOpenFlags.ReadWrite };
        bool writing = PosixOpenFlags.Writable(flags);
        if (writing && rng.Next(4) == 0) flags |= PosixOpenFlags.Truncate;   // on a log: the EPERM case
        if (writing && rng.Next(5) == 0) flags |= PosixOpenFlags.Append;
        if (FsModel.IsLog(file) && writing && rng.Next(3) > 0) flags |= PosixOpenFlags.Append;
        // O_CREAT on a read-only open creates only scratch files (a document is created by writing it).
        if ((writing || FsModel.IsScratch(file)) && rng.Next(5) < 2) flags |= PosixOpenFlags.Create;
        byte[]? first = null;
        // A document handle that is only truncated or created at open commits at its last close,
        // which the kernel reports after close(2) returns: always write it at once instead.
        if (FsModel.IsDocument(file) && writing && ((flags & PosixOpenFlags.Truncate) != 0 || !model.Exists(file)))
            first = Bytes(rng, file, index, small: true);
        return new Op(OpKind.Open, slot, file, Flags: flags, Data: first);
    }

    private static Op? ReadOp(Random rng, FsModel model)
    {
        // Mostly readable handles; now and then a write-only one, which must fail with EBADF.
        var slot = rng.Next(10) == 0 ? AnySlot(rng, model, h => h is not ModelLogHandle && !h.Readable) : AnySlot(rng, model, Readable);
        if (slot is not { } s) return null;
        long size = model.HandleSize(s);
        long offset = rng.Next(4) switch { 0 => 0, 1 => size, 2 => size + rng.Next(1, 200), _ => rng.NextInt64(size + 1) };
        int length = rng.Next(4) == 0 ? rng.Next(1, 70_000) : rng.Next(1, 600);
        return new Op(OpKind.Read, s, Offset: offset, Length: length);
    }

    private static Op? WriteOp(Random rng, FsModel model, int index)
    {
        var slot = rng.Next(12) == 0 ? AnySlot(rng, model, h => h is not ModelLogHandle) : AnySlot(rng, model, h => h is not ModelLogHandle && h.Writable);
        if (slot is not { } s) return null;
        long size = model.HandleSize(s);
        long offset = rng.Next(5) switch { 0 => 0, 1 or 2 => size, 3 => size + rng.Next(1, 300), _ => rng.NextInt64(size + 1) };
        return new Op(OpKind.Write, s, Offset: offset, Data: Bytes(rng, model.Handle(s)!.Name, index, small: size > 48_000));
    }

    private static Op? TruncateOp(Random rng, FsModel model)
    {
        if (AnySlot(rng, model, h => true) is not { } s) return null;
        long size = model.HandleSize(s);
        long to = rng.Next(3) switch { 0 => 0, 1 => size + rng.Next(1, 5000), _ => size == 0 ? 0 : rng.NextInt64(size) };
        return new Op(OpKind.Truncate, s, Offset: to);
    }

    private static Op? PathOp(Random rng, FsModel model, OpKind kind)
    {
        var names = kind == OpKind.Unlink ? FsModel.All : [.. FsModel.Documents, .. FsModel.Scratch];
        string file = Pick(rng, names);
        // A document created by an open handle but not yet committed has no fixed answer to a path
        // lookup (the kernel sees the staged copy's attributes, the store has no file): skip those.
        if (kind != OpKind.ReadFile && model.StagedOnly(file)) return null;
        return new Op(kind, File: file);
    }

    private static Op? RenameOp(Random rng, FsModel model)
    {
        int kind = rng.Next(100);
        (string from, string to) = kind switch
        {
            < 30 => (Pick(rng, FsModel.Scratch), Pick(rng, FsModel.Scratch)),
            < 65 => (Pick(rng, FsModel.Scratch), Pick(rng, FsModel.Documents)),   // a commit, as editors save
            < 85 => (Pick(rng, FsModel.Documents), Pick(rng, FsModel.Scratch)),
            < 90 => (Pick(rng, FsModel.Documents), Pick(rng, FsModel.Documents)),
            < 95 => (Pick(rng, FsModel.Logs), Pick(rng, FsModel.Scratch)),
            _ => (Pick(rng, FsModel.Scratch), Pick(rng, FsModel.Logs)),
        };
        if (from == to || model.StagedOnly(from)) return null;
        // Not modelled: a file renamed over a document while a descriptor of it is open. The
        // kernel then gives that descriptor the document's inode, whose size and page cache follow
        // later commits, while the descriptor still reads the old file (README: Decisions).
        if (FsModel.IsDocument(to) && model.InUse(from)) return null;
        return new Op(OpKind.Rename, File: from, Target: to);
    }

    private static Op? LogWriteOp(Random rng, FsModel model, int index)
    {
        var slot = rng.Next(10) == 0 ? AnySlot(rng, model, h => h is ModelLogHandle) : AnySlot(rng, model, h => h is ModelLogHandle && h.Writable);
        if (slot is not { } s) return null;
        string log = model.Handle(s)!.Name;
        var contents = Enumerable.Range(0, rng.Next(1, 4))
            .Select(j => string.Create(CultureInfo.InvariantCulture, $"{log[..2]}-{index}-{j}{new string('x', rng.Next(0, 3) == 0 ? rng.Next(0, 400) : 0)}"))
            .ToArray();
        var text = new StringBuilder();
        foreach (var c in contents)
            text.Append(rng.Next(4) == 0 ? $"{{\"content\":\"{c}\",\"op\":{index}}}\n" : $"{{\"content\":\"{c}\"}}\n");
        var at = rng.Next(10) switch { < 6 => LogAt.End, < 8 => LogAt.Zero, _ => LogAt.One };
        return new Op(OpKind.LogWrite, s, At: at, Data: Encoding.UTF8.GetBytes(text.ToString()), Contents: contents);
    }

    /// <summary>
    /// Content to write: ASCII text for documents and notes.txt (so documents stay valid UTF-8),
    /// raw bytes — often invalid UTF-8 — for data.bin half of the time.
    /// </summary>
    private static byte[] Bytes(Random rng, string file, int index, bool small)
    {
        int length = !small && rng.Next(8) == 0 ? rng.Next(1, 9000) : rng.Next(1, 200);
        var data = new byte[length];
        if (file == "data.bin" && rng.Next(2) == 0)
        {
            rng.NextBytes(data);
            return data;
        }
        string stamp = string.Create(CultureInfo.InvariantCulture, $"<{index}>");
        for (int i = 0; i < length; i++)
            data[i] = i < stamp.Length ? (byte)stamp[i] : rng.Next(12) == 0 ? (byte)'\n' : (byte)rng.Next(0x20, 0x7F);
        return data;
    }
}

using System.Text.Json;
using VfsMount.FileSystem;
using VfsMount.Store.Transcript;
using VfsMount.Tests.Store;

namespace VfsMount.Tests.View;

/// <summary>
/// The logs in-process (SPEC §2.1, §3): transcript.jsonl, inbox.jsonl and transcript.md append
/// validated whole lines, refuse everything else, and read as the store's bytes — the
/// transcript as the concatenation of its partitions — with sizes exact after every append.
/// </summary>
public sealed class LogViewTests : IDisposable
{
    private const string Transcript = "/c/transcript.jsonl";
    private readonly ViewFixture _v = new();

    public LogViewTests() => _v.Context("c");

    private string[] Lines(string path) => _v.Cat(path).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private string TranscriptDir => Path.Combine(_v.ContextDir("c"), "transcript");

    [Fact]
    public void Append_Transcript_CompletesMissingFields_KeepsUnknownOnes_MarksContextDirty()
    {
        ulong t0 = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(0, _v.Append(Transcript, "{\"content\":\"hello\",\"mood\":{\"x\":[1,2]}}\n"));
        ulong t1 = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var lines = Lines(Transcript);
        Assert.Equal(2, lines.Length);
        var e = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "entry_type", "role", "mood"], e.EnumerateObject().Select(p => p.Name));
        Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _));
        Assert.InRange(e.GetProperty("timestamp").GetUInt64(), t0, t1);
        Assert.Equal(Environment.UserName, e.GetProperty("from").GetString());
        Assert.Equal("c", e.GetProperty("to").GetString());
        Assert.Equal("message", e.GetProperty("entry_type").GetString());
        Assert.Equal("user", e.GetProperty("role").GetString());
        Assert.Equal("{\"x\":[1,2]}", e.GetProperty("mood").GetRawText());
        Assert.Equal(_v.Cat(Transcript), Disk.Utf8(Disk.Concatenation(TranscriptDir)));
        Assert.True(File.Exists(Path.Combine(_v.ContextDir("c"), ".dirty")), "chibi would not rebuild context.jsonl");
    }

    [Fact]
    public void Append_Inbox_CompletesFieldsWithoutEntryType()
    {
        Assert.Equal("", _v.Cat("/c/inbox.jsonl"));

        Assert.Equal(0, _v.Append("/c/inbox.jsonl", "{\"content\":\"ping\",\"extra\":true}\n"));

        var e = JsonDocument.Parse(Assert.Single(Lines("/c/inbox.jsonl"))).RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "extra"], e.EnumerateObject().Select(p => p.Name));
        Assert.Equal(_v.Cat("/c/inbox.jsonl"), File.ReadAllText(Path.Combine(_v.ContextDir("c"), "inbox.jsonl")));
    }

    [Fact]
    public void Append_TranscriptMd_TextLinesAsWritten_InvalidUtf8RefusedEinval()
    {
        Assert.Equal(0, _v.Append("/c/transcript.md", "# heading\nnot json — ü {\n"));
        Assert.Equal("# heading\nnot json — ü {\n", _v.Cat("/c/transcript.md"));

        ulong h = _v.Open("/c/transcript.md", OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(Errno.EINVAL, _v.Write(h, [.. "valid\n"u8, 0xFF, 0xFE, (byte)'\n'], 0));
        Assert.Equal(0, _v.Close(h));

        Assert.Equal("# heading\nnot json — ü {\n", _v.Cat("/c/transcript.md"));
    }

    [Theory]
    [InlineData(Transcript, "[1,2]\n")]
    [InlineData(Transcript, "not json\n")]
    [InlineData(Transcript, "{\"content\":42}\n")]
    [InlineData(Transcript, "{\"content\":\"ok\"}\n{\"content\": broken\n{\"content\":\"ok too\"}\n")]   // one bad line among good ones
    [InlineData("/c/inbox.jsonl", "\"a string\"\n")]
    public void Write_InvalidLine_FailsEinval_NothingOfThatWriteAppended_Quarantined(string log, string text)
    {
        string before = _v.Cat(log);
        long size = _v.Size(log);

        Assert.Equal(Errno.EINVAL, _v.Append(log, text));

        Assert.Equal(before, _v.Cat(log));
        Assert.Equal(size, _v.Size(log));
        string item = Assert.Single(_v.Ls("/.vfsmount/quarantine"));
        Assert.Equal(text, _v.Cat("/.vfsmount/quarantine/" + item));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("refused c/" + Path.GetFileName(log), StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public void PartialLine_AcrossWrites_AppendedOnlyAtItsNewline_AsOneEntry()
    {
        ulong h = _v.Open(Transcript, OpenFlags.Write | OpenFlags.Append);
        foreach (string piece in new[] { "{\"con", "tent\":", "\"split\"}" })
        {
            Assert.Equal(0, _v.Write(h, piece, 0));
            Assert.Single(Lines(Transcript));   // still only the anchor: no fragment reaches readers
        }
        Assert.Equal(0, _v.Write(h, "\n{\"content\":\"next\"}\n{\"content\":\"wait\"}", 0));
        Assert.Equal(["Context created", "split", "next"], Disk.Contents(_v.Read(Transcript)));
        Assert.Equal(0, _v.Close(h));   // the unfinished line is finished with a '\n' of ours

        Assert.Equal(["Context created", "split", "next", "wait"], Disk.Contents(_v.Read(Transcript)));
    }

    [Fact]
    public void UnfinishedLine_InvalidAtClose_CloseFailsEinval_NothingAppended()
    {
        string before = _v.Cat(Transcript);
        ulong h = _v.Open(Transcript, OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(0, _v.Write(h, "{\"content\":", 0));

        Assert.Equal(Errno.EINVAL, _v.Close(h));

        Assert.Equal(before, _v.Cat(Transcript));
        Assert.Single(_v.Ls("/.vfsmount/quarantine"));   // refused for good at release: kept
    }

    [Fact]
    public void Write_LineOverTheEntryLimit_FailsEfbig_NothingAppended()
    {
        using var v = new ViewFixture(limits: new MountLimits(MaxLineBytes: 100, MaxDocumentBytes: 1 << 20));
        v.Context("c");
        string big = $"{{\"content\":\"{new string('x', 200)}\"}}\n";
        string before = v.Cat(Transcript);

        Assert.Equal(Errno.EFBIG, v.Append(Transcript, "{\"content\":\"small\"}\n" + big));
        Assert.Equal(before, v.Cat(Transcript));

        // An unfinished line grows over the limit: refused at the write that passes it.
        ulong h = v.Open(Transcript, OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(0, v.Write(h, "{\"content\":\"", 0));
        Assert.Equal(Errno.EFBIG, v.Write(h, new string('y', 200), 0));
        Assert.Equal(0, v.Write(h, "\"}\n", 0));
        Assert.Equal(0, v.Close(h));
        Assert.Equal(["Context created", ""], Disk.Contents(v.Read(Transcript)));
    }

    [Fact]
    public void Pwrite_WithoutAppend_InTheMiddleEperm_AtTheEndAppends()
    {
        long end = _v.Size(Transcript);
        ulong h = _v.Open(Transcript, OpenFlags.Write);

        Assert.Equal(Errno.EPERM, _v.Write(h, "{\"content\":\"over\"}\n", 1));
        Assert.Equal(Errno.EPERM, _v.Write(h, "{\"content\":\"past\"}\n", end + 10));
        Assert.Equal(0, _v.Write(h, "{\"content\":\"at end\"}\n", end));
        Assert.Equal(0, _v.Close(h));

        Assert.Equal(["Context created", "at end"], Disk.Contents(_v.Read(Transcript)));
    }

    [Fact]
    public void Append_WithAppendFlag_AppendsWhateverTheOffset()
    {
        ulong h = _v.Open("/c/inbox.jsonl", OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(0, _v.Write(h, "{\"content\":\"a\"}\n", 0));
        Assert.Equal(0, _v.Write(h, "{\"content\":\"b\"}\n", 0));
        Assert.Equal(0, _v.Close(h));

        Assert.Equal(["a", "b"], Disk.Contents(_v.Read("/c/inbox.jsonl")));
    }

    [Theory]
    [InlineData(Transcript)]
    [InlineData("/c/inbox.jsonl")]
    [InlineData("/c/transcript.md")]
    public void Log_TruncateUnlinkRenameAndOTrunc_FailEperm_ContentKept(string log)
    {
        Assert.Equal(0, _v.Append(log, log.EndsWith(".md", StringComparison.Ordinal) ? "kept\n" : "{\"content\":\"kept\"}\n"));
        string before = _v.Cat(log);

        Assert.Equal(Errno.EPERM, _v.TryOpen(log, OpenFlags.Write | OpenFlags.Truncate, out _));
        Assert.Equal(Errno.EPERM, _v.Fs.Truncate(log, null, 0));
        ulong h = _v.Open(log, OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(Errno.EPERM, _v.Fs.Truncate(log, h, 0));   // ftruncate
        Assert.Equal(0, _v.Close(h));
        Assert.Equal(Errno.EPERM, _v.Fs.Unlink(log));
        Assert.Equal(Errno.EPERM, _v.Fs.Rename(log, "/c/moved", RenameFlags.None));
        Assert.Equal(0, _v.Save("/c/scratch.txt", "x\n"));
        Assert.Equal(Errno.EPERM, _v.Fs.Rename("/c/scratch.txt", log, RenameFlags.None));

        Assert.Equal(before, _v.Cat(log));
        Assert.Contains(Path.GetFileName(log), _v.Ls("/c"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/moved", out _));
    }

    [Fact]
    public void Rotation_ReadsAcrossPartitions_EqualTheConcatenation_AndOnceReadNeverChange()
    {
        using var v = new ViewFixture(new StorageOptions(MaxEntries: 5));
        v.Context("c");
        ulong reader = v.Open(Transcript, OpenFlags.ReadOnly);
        var seen = new List<byte[]>();
        for (int i = 0; i < 23; i++)
        {
            Assert.Equal(0, v.Append(Transcript, $"{{\"content\":\"m{i}\"}}\n"));
            seen.Add(v.ReadAll(reader));   // one reader, open across every rotation (tail -f)
        }

        string dir = Path.Combine(v.ContextDir("c"), "transcript");
        Assert.True(Directory.GetFiles(Path.Combine(dir, "partitions"), "*.jsonl").Length >= 4, "the transcript never rotated");
        byte[] whole = v.ReadAll(reader);
        Assert.Equal(Disk.Concatenation(dir), whole);
        Assert.Equal(whole.Length, v.Size(Transcript));
        for (int i = 1; i < seen.Count; i++) Assert.Equal(seen[i - 1], seen[i][..seen[i - 1].Length]);
        Assert.Equal(["Context created", .. Enumerable.Range(0, 23).Select(i => $"m{i}")], Disk.Contents(whole));
        Assert.Equal(0, v.Close(reader));
    }

    [Fact]
    public void Size_ExactAfterEveryAppend_ByNameAndThroughTheWritingHandle()
    {
        ulong h = _v.Open(Transcript, OpenFlags.Write | OpenFlags.Append);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(0, _v.Write(h, $"{{\"content\":\"{new string('s', i * 7)}\"}}\n", 0));
            long length = _v.Read(Transcript).Length;
            Assert.Equal(length, _v.Size(Transcript));
            Assert.Equal(0, _v.Fs.GetAttr(Transcript, h, out var attr));
            Assert.Equal(length, attr.Size);
            Assert.True(attr.IsLog);
        }
        Assert.Equal(0, _v.Close(h));
    }

    [Theory]
    [InlineData(Transcript)]
    [InlineData("/c/inbox.jsonl")]
    public void Handle_AcrossAContextRename_AppendsOnceIntoTheRenamedContextOrFailsCleanly(string log)
    {
        ulong h = _v.Open(log, OpenFlags.Write | OpenFlags.Append);
        Assert.Equal(0, _v.Fs.Rename("/c", "/d", RenameFlags.None));

        int errno = _v.Write(h, "{\"content\":\"after\"}\n", 0);
        Assert.Equal(0, _v.Close(h));

        string moved = "/d/" + Path.GetFileName(log);
        var contents = Disk.Contents(_v.Read(moved));
        Assert.Equal(errno == 0 ? 1 : 0, contents.Count(c => c == "after"));
        Assert.False(Directory.Exists(_v.ContextDir("c")), "the old context came back");
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c", out _));
    }

    public void Dispose() => _v.Dispose();
}

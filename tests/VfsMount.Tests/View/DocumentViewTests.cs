using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>
/// Documents in-process (SPEC §2.2): a writing handle stages a private copy, committed whole
/// at close (each flush) or fsync when valid, refused with EINVAL and quarantined when not;
/// readers see the old content or the new, never a mix.
/// </summary>
public sealed class DocumentViewTests : IDisposable
{
    private const string Summary = "/c/summary.md";
    private readonly ViewFixture _v = new();

    public DocumentViewTests() => _v.Context("c");

    private string Stored(string name) => File.ReadAllText(Path.Combine(_v.ContextDir("c"), name));

    /// <summary>Names in the context directory that are neither chibi's nor the test's: temp files left behind.</summary>
    private string[] Strays() =>
        [.. Directory.GetFiles(_v.ContextDir("c")).Select(Path.GetFileName).Where(n => n!.Contains(".tmp", StringComparison.Ordinal) || n.StartsWith(".vfsmount", StringComparison.Ordinal))!];

    [Fact]
    public void Write_StagedUntilClose_OthersSeeOldThenNewWhole()
    {
        Assert.Equal(0, _v.Save(Summary, "old content\n"));
        ulong w = _v.Open(Summary, OpenFlags.Write | OpenFlags.Truncate);

        Assert.Equal(0, _v.Write(w, "new content\n", 0));
        Assert.Equal("old content\n", _v.Cat(Summary));          // a fresh open sees the committed copy
        Assert.Equal("old content\n", Stored("summary.md"));
        Assert.Equal(12, _v.Size(Summary));
        Assert.Equal(0, _v.Write(w, "more\n", 12));
        Assert.Equal("old content\n", _v.Cat(Summary));

        Assert.Equal(0, _v.Close(w));

        Assert.Equal("new content\nmore\n", _v.Cat(Summary));
        Assert.Equal("new content\nmore\n", Stored("summary.md"));
        Assert.Empty(Strays());
    }

    [Fact]
    public void Fsync_BeforeClose_Commits_CloseWithNothingNewCommitsNothing()
    {
        Assert.Equal(0, _v.Save(Summary, "v1\n"));
        ulong w = _v.Open(Summary, OpenFlags.ReadWrite);
        Assert.Equal(0, _v.Write(w, "v2\n", 0));

        Assert.Equal(0, _v.Fs.Fsync(w, dataOnly: false));
        Assert.Equal("v2\n", _v.Cat(Summary));

        Assert.Equal(0, _v.Save(Summary, "other\n"));   // another program's commit after ours
        Assert.Equal(0, _v.Close(w));                   // ours has nothing new since its fsync
        Assert.Equal("other\n", _v.Cat(Summary));
    }

    [Theory]
    [InlineData("context_meta.json", "{\"a\": 1}", "{\"a\": ")]        // a valid prefix: refused only at close
    [InlineData("local.toml", "[storage]\n", "[storage\n")]
    [InlineData("context.jsonl", "{\"role\":\"user\"}\n", "{\"role\":\"user\"}\n{\"role\":")]
    public void Close_InvalidContent_FailsEinval_KeepsOld_Quarantines(string name, string good, string bad)
    {
        string path = "/c/" + name;
        Assert.Equal(0, _v.Save(path, good));
        ulong w = _v.Open(path, OpenFlags.Write | OpenFlags.Truncate);
        Assert.Equal(0, _v.Write(w, bad, 0));

        Assert.Equal(Errno.EINVAL, _v.Close(w));

        Assert.Equal(good, _v.Cat(path));
        Assert.Equal(good, Stored(name));
        string item = Assert.Single(_v.Ls("/.vfsmount/quarantine"));
        Assert.EndsWith("-c-" + name, item, StringComparison.Ordinal);
        Assert.Equal(bad, _v.Cat("/.vfsmount/quarantine/" + item));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("refused c/" + name, StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
        Assert.Empty(Strays());
    }

    [Theory]
    [InlineData("context_meta.json", "{broken")]
    [InlineData("summary.md", "a\xffb")]
    [InlineData("context.jsonl", "{\"x\":1}\nnot json\n")]
    public void Write_HopelessContent_RefusedAtOnceEinval_StagedCopyAsBefore(string name, string latin1)
    {
        string path = "/c/" + name;
        byte[] bad = [.. latin1.Select(c => (byte)c)];   // \xff stays the byte 0xFF
        ulong w = _v.Created(path, OpenFlags.Write | OpenFlags.Truncate);

        Assert.Equal(Errno.EINVAL, _v.Write(w, bad, 0));

        Assert.Equal(0, _v.Fs.GetAttr(path, w, out var staged));
        Assert.Equal(0, staged.Size);
        string valid = name.EndsWith(".json", StringComparison.Ordinal) ? "{}" : "{\"ok\":1}\n";   // valid in each format
        Assert.Equal(0, _v.Write(w, valid, 0));
        Assert.Equal(0, _v.Close(w));
        Assert.Equal(valid, _v.Cat(path));
    }

    [Fact]
    public void Reader_OpenedBeforeACommit_KeepsTheOldBytesWhole_NewOpenReadsNew()
    {
        Assert.Equal(0, _v.Save(Summary, "aaaa\n"));
        Assert.Equal(0, _v.GetAttr(Summary, out var before));
        ulong r = _v.Open(Summary, OpenFlags.ReadOnly);
        var first = new byte[2];
        Assert.Equal(0, _v.Fs.Read(r, first, 0, out int n));
        Assert.Equal(2, n);

        Assert.Equal(0, _v.Save(Summary, "bbbbbbbb\n"));

        Assert.Equal("aaaa\n"u8.ToArray(), _v.ReadAll(r));   // the rest of its read is still the old file
        Assert.Equal("bbbbbbbb\n", _v.Cat(Summary));
        Assert.Equal(0, _v.GetAttr(Summary, out var after));
        Assert.NotEqual(before.Identity, after.Identity);     // a commit is a new file: the host gives it a new node
        Assert.Equal(0, _v.Close(r));
    }

    [Fact]
    public void WritingHandle_GetAttrAfterFtruncate_ReportsTheStagedSize()
    {
        Assert.Equal(0, _v.Save(Summary, "0123456789\n"));
        ulong w = _v.Open(Summary, OpenFlags.ReadWrite);

        Assert.Equal(0, _v.Fs.Truncate(Summary, w, 3));
        Assert.Equal(0, _v.Fs.GetAttr(Summary, w, out var shrunk));
        Assert.Equal(3, shrunk.Size);
        Assert.Equal(0, _v.Fs.Truncate(Summary, w, 5000));
        Assert.Equal(0, _v.Fs.GetAttr(Summary, w, out var grown));
        Assert.Equal(5000, grown.Size);
        // By name too: the staged copy, as an in-place write shows natively (README: Decisions);
        // a reader still reads the committed document.
        Assert.Equal(5000, _v.Size(Summary));
        Assert.Equal("0123456789\n", _v.Cat(Summary));

        Assert.Equal(0, _v.Fs.Truncate(Summary, w, 3));
        Assert.Equal(0, _v.Close(w));
        Assert.Equal("012", _v.Cat(Summary));
    }

    [Fact]
    public void Truncate_ByName_CommitsAtOnce()
    {
        Assert.Equal(0, _v.Save(Summary, "keep this part, not this\n"));

        Assert.Equal(0, _v.Fs.Truncate(Summary, null, 14));

        Assert.Equal("keep this part", _v.Cat(Summary));
        Assert.Equal("keep this part", Stored("summary.md"));
        Assert.Empty(Strays());
    }

    [Fact]
    public void TwoWriters_OneDocument_LastCommitWinsWhole()
    {
        ulong a = _v.Created(Summary, OpenFlags.Write);
        ulong b = _v.Open(Summary, OpenFlags.Write);
        Assert.Equal(0, _v.Write(a, "from a, longer\n", 0));
        Assert.Equal(0, _v.Write(b, "from b\n", 0));

        Assert.Equal(0, _v.Close(a));
        Assert.Equal("from a, longer\n", _v.Cat(Summary));
        Assert.Equal(0, _v.Close(b));

        Assert.Equal("from b\n", _v.Cat(Summary));
    }

    [Fact]
    public void Write_PastTheDocumentLimit_FailsEfbig_DocumentUnchanged()
    {
        using var v = new ViewFixture(limits: new MountLimits(MaxLineBytes: 1 << 20, MaxDocumentBytes: 100));
        v.Context("c");
        Assert.Equal(0, v.Save(Summary, "kept\n"));
        ulong w = v.Open(Summary, OpenFlags.Write | OpenFlags.Truncate);

        Assert.Equal(Errno.EFBIG, v.Write(w, new string('x', 101), 0));
        Assert.Equal(Errno.EFBIG, v.Fs.Truncate(Summary, w, 101));
        Assert.Equal(0, v.Close(w));   // its staged copy is empty, and that is what it commits

        Assert.Equal("", v.Cat(Summary));
        Assert.Equal(Errno.EFBIG, v.Fs.Truncate(Summary, null, 101));
        Assert.Equal("", v.Cat(Summary));
    }

    [Fact]
    public void RenameScratchOverDocument_ValidCommits_InvalidEinvalScratchStays()
    {
        Assert.Equal(0, _v.Save("/c/context_meta.json", "{\"a\": 1}"));
        Assert.Equal(0, _v.Save("/c/meta.new", "{\"a\": 2}"));
        Assert.Equal(0, _v.Fs.Rename("/c/meta.new", "/c/context_meta.json", RenameFlags.None));
        Assert.Equal("{\"a\": 2}", _v.Cat("/c/context_meta.json"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/meta.new", out _));

        Assert.Equal(0, _v.Save("/c/meta.bad", "{\"a\": "));
        Assert.Equal(Errno.EINVAL, _v.Fs.Rename("/c/meta.bad", "/c/context_meta.json", RenameFlags.None));
        Assert.Equal("{\"a\": 2}", _v.Cat("/c/context_meta.json"));
        Assert.Equal("{\"a\": ", _v.Cat("/c/meta.bad"));
    }

    [Fact]
    public void UnlinkAndRenameAway_Allowed()
    {
        Assert.Equal(0, _v.Save(Summary, "s\n"));
        Assert.Equal(0, _v.Save("/c/todos.md", "t\n"));

        Assert.Equal(0, _v.Fs.Unlink(Summary));
        Assert.Equal(0, _v.Fs.Rename("/c/todos.md", "/c/todos.old", RenameFlags.None));

        Assert.Equal(Errno.ENOENT, _v.GetAttr(Summary, out _));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/todos.md", out _));
        Assert.Equal("t\n", _v.Cat("/c/todos.old"));
        Assert.DoesNotContain("summary.md", _v.Ls("/c"));
        Assert.Equal(Errno.ENOENT, _v.TryOpen(Summary, OpenFlags.ReadOnly, out _));
    }

    public void Dispose() => _v.Dispose();
}

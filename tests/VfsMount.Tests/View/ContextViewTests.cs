using System.Globalization;
using System.Text.Json;
using VfsMount.FileSystem;
using VfsMount.Tests.Store;

namespace VfsMount.Tests.View;

/// <summary>A context directory in-process (SPEC §2.4): mkdir as chibi, names, rename, rmdir.</summary>
public sealed class ContextViewTests : IDisposable
{
    private readonly ViewFixture _v = new();

    private string[] Registry()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(_v.Store.StatePath));
        return [.. doc.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).Order(StringComparer.Ordinal)];
    }

    private void HoldByChibi(string context, long secondsAgo = 0) =>
        File.WriteAllText(Path.Combine(_v.ContextDir(context), ".lock"),
            (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - secondsAgo).ToString(CultureInfo.InvariantCulture));

    [Fact]
    public void Mkdir_NewContext_AnchorIsTheOnlyEntry_RegistryRecordsIt_ListingShowsTheLogs()
    {
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        Assert.Equal(0, _v.Mkdir("/work"));

        var anchor = Assert.Single(Disk.Entries(Disk.Concatenation(Path.Combine(_v.ContextDir("work"), "transcript"))));
        Assert.Equal("context_created", anchor["entry_type"]!.GetValue<string>());
        Assert.Equal("work", anchor["to"]!.GetValue<string>());
        Assert.Equal("Context created", anchor["content"]!.GetValue<string>());
        Assert.True(Guid.TryParse(anchor["id"]!.GetValue<string>(), out _));
        Assert.InRange(anchor["timestamp"]!.GetValue<long>(), before, before + 30);
        Assert.Equal(["work"], Registry());
        Assert.Equal(anchor.ToJsonString() + "\n", _v.Cat("/work/transcript.jsonl"));
        Assert.Equal(["inbox.jsonl", "transcript", "transcript.jsonl", "transcript.md"], _v.Ls("/work"));
        Assert.Equal(Errno.EEXIST, _v.Mkdir("/work"));
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("-x")]
    [InlineData("system")]
    [InlineData("a.b")]
    [InlineData("caf\u00e9")]
    [InlineData("..")]
    public void Mkdir_InvalidName_FailsEinval_LoggedAndNothingMade(string name)
    {
        Assert.Equal(Errno.EINVAL, _v.Mkdir("/" + name));

        Assert.Empty(Directory.GetFileSystemEntries(_v.Store.ContextsDir));
        Assert.False(File.Exists(_v.Store.StatePath));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains(name, StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public void Mkdir_OverlongName_FailsEnametoolong_LongestValidNameWorks()
    {
        Assert.Equal(Errno.ENAMETOOLONG, _v.Mkdir("/" + new string('a', 300)));
        Assert.Empty(Directory.GetFileSystemEntries(_v.Store.ContextsDir));

        string longest = new('n', 255);
        Assert.Equal(0, _v.Mkdir("/" + longest));
        Assert.Equal([longest], Registry());
    }

    [Fact]
    public void Rename_Context_MovesDirectoryRegistryAndHistory()
    {
        _v.Context("a");
        Assert.Equal(0, _v.Append("/a/transcript.jsonl", "{\"content\":\"kept\"}\n"));
        string transcript = _v.Cat("/a/transcript.jsonl");

        Assert.Equal(0, _v.Fs.Rename("/a", "/b", RenameFlags.None));

        Assert.Equal(Errno.ENOENT, _v.GetAttr("/a", out _));
        Assert.Equal(transcript, _v.Cat("/b/transcript.jsonl"));
        Assert.Equal(["b"], Registry());
        Assert.False(Directory.Exists(_v.ContextDir("a")));
    }

    [Fact]
    public void Rename_OntoExistingContext_FailsEexist_BothKept()
    {
        _v.Context("a");
        _v.Context("b");

        Assert.Equal(Errno.EEXIST, _v.Fs.Rename("/a", "/b", RenameFlags.None));

        Assert.Equal(["a", "b"], Registry());
        Assert.Equal(0, _v.GetAttr("/a/transcript.jsonl", out _));
        Assert.Equal(0, _v.GetAttr("/b/transcript.jsonl", out _));
    }

    [Fact]
    public void Rename_WhileChibiHoldsTheLock_FailsEbusy_StaleLockDoesNotHold()
    {
        _v.Context("a");
        HoldByChibi("a");

        Assert.Equal(Errno.EBUSY, _v.Fs.Rename("/a", "/c", RenameFlags.None));
        Assert.Equal(["a"], Registry());
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("chibi holds context \"a\"", StringComparison.Ordinal));

        HoldByChibi("a", secondsAgo: 3600);
        Assert.Equal(0, _v.Fs.Rename("/a", "/c", RenameFlags.None));
        Assert.Equal(["c"], Registry());
    }

    [Fact]
    public void Rename_ToInvalidNameOrIntoAContext_FailsEinval_ContextStays()
    {
        _v.Context("a");
        _v.Context("b");

        Assert.Equal(Errno.EINVAL, _v.Fs.Rename("/a", "/bad name", RenameFlags.None));
        Assert.Equal(Errno.EINVAL, _v.Fs.Rename("/a", "/b/sub", RenameFlags.None));   // a context moves only to another context name

        Assert.Equal(["a", "b"], Registry());
        Assert.Equal(0, _v.GetAttr("/a", out _));
    }

    [Fact]
    public void Rmdir_FreshContext_RemovesDirectoryAndRecord_OthersStay()
    {
        _v.Context("fresh");
        _v.Context("keep");
        Assert.Equal(0, _v.Save("/fresh/summary.md", "s\n"));   // chibi's own files go with it

        Assert.Equal(0, _v.Fs.Rmdir("/fresh"));

        Assert.Equal(Errno.ENOENT, _v.GetAttr("/fresh", out _));
        Assert.False(Directory.Exists(_v.ContextDir("fresh")));
        Assert.Equal(["keep"], Registry());
    }

    [Fact]
    public void Rmdir_AfterOneEntry_FailsEnotempty_HistoryKept()
    {
        _v.Context("busy");
        Assert.Equal(0, _v.Append("/busy/transcript.jsonl", "{\"content\":\"history\"}\n"));
        string transcript = _v.Cat("/busy/transcript.jsonl");

        Assert.Equal(Errno.ENOTEMPTY, _v.Fs.Rmdir("/busy"));

        Assert.Equal(transcript, _v.Cat("/busy/transcript.jsonl"));
        Assert.Equal(["busy"], Registry());
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("busy", StringComparison.Ordinal) && l.Contains("beyond its anchor", StringComparison.Ordinal));
    }

    [Fact]
    public void Rmdir_WithAScratchFile_FailsEnotempty()
    {
        _v.Context("c");
        Assert.Equal(0, _v.Save("/c/notes.txt", "mine\n"));

        Assert.Equal(Errno.ENOTEMPTY, _v.Fs.Rmdir("/c"));

        Assert.Equal("mine\n", File.ReadAllText(Path.Combine(_v.ContextDir("c"), "notes.txt")));
        Assert.Equal(["c"], Registry());
    }

    [Fact]
    public void ContextDir_IsNotAFile_OpenFailsAndUnlinkIsEisdir()
    {
        _v.Context("c");

        Assert.Equal(Errno.EISDIR, _v.TryOpen("/c", OpenFlags.Write, out _));
        Assert.Equal(Errno.EISDIR, _v.Fs.Unlink("/c"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/gone/summary.md", out _));
        Assert.Equal(Errno.ENOENT, _v.Create("/gone/notes.txt", OpenFlags.Write, out _));
    }

    public void Dispose() => _v.Dispose();
}

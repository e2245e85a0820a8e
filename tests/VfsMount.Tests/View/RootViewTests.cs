using System.Text.Json;
using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>The mount's top directory in-process (SPEC §2): its listing, state.json, session.json, .vfsmount/, and what cannot be made there.</summary>
public sealed class RootViewTests : IDisposable
{
    private readonly ViewFixture _v = new();

    [Fact]
    public void Ls_FreshStore_ShowsStateJsonAndStatusDirOnly()
    {
        Assert.Equal([".vfsmount", "state.json"], _v.Ls("/"));
        Assert.Equal(0, _v.GetAttr("/", out var root));
        Assert.Equal(FileKind.Directory, root.Kind);
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/session.json", out _));   // a store without chibi 0.10's session
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/.vfs", out _));          // nor its shared VFS
    }

    [Fact]
    public void Ls_AfterMkdir_ListsEachContextAsADirectory()
    {
        _v.Context("alpha");
        _v.Context("beta");

        var entries = new List<DirEntry>();
        Assert.Equal(0, _v.Fs.ReadDir("/", entries));
        Assert.Equal([".vfsmount", "alpha", "beta", "state.json"], entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.All(entries.Where(e => e.Name is "alpha" or "beta"), e => Assert.Equal(FileKind.Directory, e.Kind));
        Assert.Equal(0, _v.GetAttr("/alpha", out var attr));
        Assert.Equal(FileKind.Directory, attr.Kind);
    }

    [Fact]
    public void StateJson_FreshStore_ReadsEmpty_TakesAValidWrite_AndMkdirRecordsInIt()
    {
        Assert.Equal("", _v.Cat("/state.json"));

        const string state = "{\"contexts\": [], \"current_context\": \"default\", \"previous_context\": null}";
        Assert.Equal(0, _v.Save("/state.json", state));
        Assert.Equal(state, File.ReadAllText(_v.Store.StatePath));

        _v.Context("demo");
        using var doc = JsonDocument.Parse(_v.Cat("/state.json"));
        Assert.Equal(["demo"], doc.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public void StateJson_NotAJsonObject_RefusedEinval_RegistryUnchanged()
    {
        _v.Context("demo");
        string before = File.ReadAllText(_v.Store.StatePath);

        Assert.Equal(Errno.EINVAL, _v.Save("/state.json", "[1, 2]"));

        Assert.Equal(before, File.ReadAllText(_v.Store.StatePath));
        Assert.Contains(_v.Log.Split('\n'), l => l.Contains("state.json", StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public void SessionJson_WhereTheStoreHasOne_ListedReadAndWrittenAsAJsonDocument()
    {
        const string session = "{\"implied_context\":\"a\"}";
        using var v = new ViewFixture(prepareStore: dir => File.WriteAllText(Path.Combine(dir, "session.json"), session));

        Assert.Contains("session.json", v.Ls("/"));
        Assert.Equal(session, v.Cat("/session.json"));
        Assert.Equal(0, v.Save("/session.json", "{\"implied_context\":\"b\"}"));
        Assert.Equal("{\"implied_context\":\"b\"}", File.ReadAllText(v.StorePath("session.json")));
        Assert.Equal(Errno.EINVAL, v.Save("/session.json", "not json"));
        Assert.Equal("{\"implied_context\":\"b\"}", File.ReadAllText(v.StorePath("session.json")));
    }

    [Fact]
    public void StatusDir_ListsStatusAndQuarantine_StatusJsonCountsContexts()
    {
        _v.Context("c");
        Assert.Equal(0, _v.Append("/c/transcript.jsonl", "{\"content\":\"x\"}\n"));

        Assert.Equal(["quarantine", "status.json"], _v.Ls("/.vfsmount"));
        Assert.Empty(_v.Ls("/.vfsmount/quarantine"));
        using var status = JsonDocument.Parse(_v.Cat("/.vfsmount/status.json"));
        Assert.Equal(1, status.RootElement.GetProperty("appends").GetInt64());
        Assert.Equal(1, status.RootElement.GetProperty("contexts").GetProperty("c").GetProperty("appends").GetInt64());
    }

    [Fact]
    public void StatusDir_EveryChange_FailsErofs_AndQuarantineItemsReadBack()
    {
        _v.Context("c");
        Assert.Equal(Errno.EINVAL, _v.Append("/c/transcript.jsonl", "nope\n"));
        string item = Assert.Single(_v.Ls("/.vfsmount/quarantine"));
        string q = "/.vfsmount/quarantine/" + item;
        Assert.EndsWith("-c-transcript.jsonl", item, StringComparison.Ordinal);
        Assert.Equal("nope\n", _v.Cat(q));

        Assert.Equal(Errno.EROFS, _v.TryOpen("/.vfsmount/status.json", OpenFlags.Write, out _));
        Assert.Equal(Errno.EROFS, _v.Create("/.vfsmount/new", OpenFlags.Write, out _));
        Assert.Equal(Errno.EROFS, _v.TryOpen(q, OpenFlags.Write | OpenFlags.Append, out _));
        Assert.Equal(Errno.EROFS, _v.Fs.Unlink(q));
        Assert.Equal(Errno.EROFS, _v.Fs.Rename(q, "/c/x", RenameFlags.None));
        Assert.Equal(Errno.EROFS, _v.Mkdir("/.vfsmount/d"));
        Assert.Equal(Errno.EROFS, _v.Fs.Truncate("/.vfsmount/status.json", null, 0));
        Assert.Equal([item], _v.Ls("/.vfsmount/quarantine"));
        Assert.Equal(Errno.ENOENT, _v.GetAttr("/c/x", out _));
    }

    [Fact]
    public void Top_NonContextNames_CannotBeMade_AndNothingReachesTheStore()
    {
        Assert.Equal(Errno.ENOENT, _v.Create("/notes.txt", OpenFlags.Write, out _));   // as any name at the top that is no context
        Assert.Equal(Errno.EINVAL, _v.Mkdir("/bad name"));
        Assert.Equal(Errno.EINVAL, _v.Mkdir("/.vfs"));   // no STORE/vfs/ here: a context name the store refuses, not "exists"
        Assert.Equal(Errno.EPERM, _v.Symlink("/tmp", "/link"));
        Assert.Equal(Errno.ENOENT, _v.TryOpen("/notes.txt", OpenFlags.ReadOnly, out _));
        Assert.Equal(Errno.EBUSY, _v.Fs.Rmdir("/"));

        Assert.Equal([".vfsmount", "state.json"], _v.Ls("/"));
        Assert.Empty(Directory.GetFileSystemEntries(_v.Store.ContextsDir));
        Assert.False(File.Exists(_v.StorePath("notes.txt")));
        Assert.False(File.Exists(_v.StorePath("link")));
    }

    public void Dispose() => _v.Dispose();
}

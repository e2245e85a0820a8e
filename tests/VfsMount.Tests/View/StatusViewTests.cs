using System.Text;
using System.Text.Json;
using VfsMount.FileSystem;
using VfsMount.Store;

namespace VfsMount.Tests.View;

/// <summary>
/// The status view in-process, without a kernel: counters stay exact under many concurrent
/// appenders (whose appends the store batches into group commits), and the wrapper's own
/// handles never collide with the view's.
/// </summary>
public sealed class StatusViewTests : IDisposable
{
    private static readonly Caller Me = new(0, 0, Environment.ProcessId);
    private readonly string _root = Directory.CreateTempSubdirectory("vfsmount-status-").FullName;

    private static JsonElement ReadStatus(StatusView fs)
    {
        Assert.Equal(0, fs.Open("/.vfsmount/status.json", OpenFlags.ReadOnly, Me, out var open));
        var buffer = new byte[1 << 20];
        Assert.Equal(0, fs.Read(open.Handle, buffer, 0, out int n));
        Assert.Equal(0, fs.Release(open.Handle));
        return JsonDocument.Parse(buffer.AsMemory(0, n)).RootElement.Clone();
    }

    [Fact]
    public async Task Appends_SixteenThreadsAtOnce_CountedExactlyOncePerLine()
    {
        var store = new ChibiStore(Path.Combine(_root, "store"));
        var view = new ContextFileSystem(store, new StringWriter());
        var fs = new StatusView(view, "/mnt");
        Assert.Equal(0, fs.Mkdir("/c", 0x1ED, new Caller(0, 0, Environment.ProcessId)));
        using var start = new Barrier(16);

        var writers = Enumerable.Range(0, 16).Select(w => Task.Run(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 100; i++)
            {
                Assert.Equal(0, fs.Open("/c/transcript.jsonl", OpenFlags.Write | OpenFlags.Append, Me, out var h));
                var line = Encoding.UTF8.GetBytes($"{{\"content\":\"{w}-{i}\"}}\n");
                Assert.Equal(0, fs.Write(h.Handle, line, 0, out _));
                Assert.Equal(0, fs.Release(h.Handle));
            }
        })).ToArray();
        await Task.WhenAll(writers);

        var status = ReadStatus(fs);
        Assert.Equal(1600, status.GetProperty("appends").GetInt64());
        // 1601 entries: chibi's default of 1000 per partition rotated once, and every byte counts.
        Assert.Equal(1, status.GetProperty("rotations").GetInt64());
        var whole = VfsMount.Tests.Store.Disk.ReadAll(store.Transcript("c"));
        long anchor = Array.IndexOf(whole, (byte)'\n') + 1;
        Assert.Equal(whole.Length - anchor, status.GetProperty("append_bytes").GetInt64());
        Assert.Equal(1600, status.GetProperty("contexts").GetProperty("c").GetProperty("appends").GetInt64());
    }

    [Fact]
    public void OwnHandles_AndTheViews_AreApart_AndEachReleasesItsOwn()
    {
        var store = new ChibiStore(Path.Combine(_root, "store"));
        var fs = new StatusView(new ContextFileSystem(store, new StringWriter()), "/mnt");
        Assert.Equal(0, fs.Mkdir("/c", 0x1ED, new Caller(0, 0, Environment.ProcessId)));
        Assert.Equal(0, fs.Open("/c/transcript.jsonl", OpenFlags.ReadOnly, Me, out var log));
        Assert.Equal(0, fs.Open("/.vfsmount/status.json", OpenFlags.ReadOnly, Me, out var status));
        Assert.NotEqual(log.Handle, status.Handle);
        Assert.True(status.DirectIo);

        Assert.Equal(1, ReadStatus(fs).GetProperty("open_handles").GetInt64());
        Assert.Equal(Errno.EBADF, fs.Write(status.Handle, "x"u8, 0, out _));
        Assert.Equal(0, fs.Release(status.Handle));
        Assert.Equal(Errno.EBADF, fs.Release(status.Handle));
        Assert.Equal(0, fs.Release(log.Handle));
        Assert.Equal(0, ReadStatus(fs).GetProperty("open_handles").GetInt64());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

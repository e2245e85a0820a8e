using System.Text;
using System.Text.Json;
using VfsMount.FileSystem;

namespace VfsMount.Tests.View;

/// <summary>
/// The status view in-process, without a kernel: counters stay exact under many concurrent
/// appenders (whose appends the store batches into group commits), and the wrapper's own
/// handles never collide with the view's.
/// </summary>
public sealed class StatusViewTests : IDisposable
{
    private static readonly Caller Me = ViewFixture.Me;
    private readonly ViewFixture _v = new();

    private static JsonElement ReadStatus(IFileSystem fs)
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
        var fs = _v.Fs;
        _v.Context("c");
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
        var whole = VfsMount.Tests.Store.Disk.ReadAll(_v.Store.Transcript("c"));
        long anchor = Array.IndexOf(whole, (byte)'\n') + 1;
        Assert.Equal(whole.Length - anchor, status.GetProperty("append_bytes").GetInt64());
        Assert.Equal(1600, status.GetProperty("contexts").GetProperty("c").GetProperty("appends").GetInt64());
    }

    [Fact]
    public void OwnHandles_AndTheViews_AreApart_AndEachReleasesItsOwn()
    {
        var fs = _v.Fs;
        _v.Context("c");
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

    public void Dispose() => _v.Dispose();
}

using VfsMount.FileSystem;
using VfsMount.Store;

namespace VfsMount.Tests.View;

/// <summary>
/// One descriptor of a document used from two threads, as pread and pwrite may be: a commit
/// hands the staged file to the document and the next write stages a fresh copy, disposing the
/// descriptor of the old one. A read racing that must read one copy or the other — never a
/// closed descriptor (EBADF), or worse one whose number was reused.
/// </summary>
public sealed class DocumentHandleRaceTests
{
    [Fact]
    public async Task Read_WhileAWriteRestages_ReadsACopyNotAClosedDescriptor()
    {
        using var v = new ViewFixture();
        Assert.Equal(0, v.Mkdir("/x"));
        ulong h = v.Created("/x/summary.md", OpenFlags.ReadWrite);
        var fs = v.Fs;
        byte[] line = "# one\n"u8.ToArray();
        Assert.Equal(0, fs.Write(h, line, 0, out _));
        Assert.Equal(0, fs.Fsync(h, false));   // committed by rename: the next write restages

        using var hold = HoldPoint.Arm("document-restage", v.Store.Root);
        var write = Task.Run(() => fs.Write(h, line, 0, out _));
        Assert.True(hold.WaitReached(TimeSpan.FromSeconds(10)), "the write did not restage");
        var read = Task.Run(() =>
        {
            var buffer = new byte[64];
            int r = fs.Read(h, buffer, 0, out int n);
            return (r, Text: System.Text.Encoding.UTF8.GetString(buffer, 0, n));
        });
        await Task.WhenAny(read, Task.Delay(300));   // old code: answered at once, from the disposed copy
        hold.Release();
        Assert.Equal(0, await write.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((0, "# one\n"), await read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, fs.Release(h));
    }
}

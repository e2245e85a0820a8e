using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Store.Recovery;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>
/// The races of issue 10, each made deterministic with a <see cref="HoldPoint"/>: one operation
/// is stopped at the step where it used to be exposed, the racing one runs, then the first goes
/// on. Two ChibiStore instances on one directory stand for two processes (a daemon and chibi, or
/// two daemons): they share nothing but the files and their locks.
/// </summary>
public sealed class RaceTests : IDisposable
{
    private static readonly TimeSpan Reach = TimeSpan.FromSeconds(10);
    /// <summary>How long the racing step is given before the held one goes on: enough to finish unless it waits for a lock.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(500);
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CompletedEntry Entry(string context, string content) =>
        EntryCompleter.Transcript(Encoding.UTF8.GetBytes($"{{\"content\":\"{content}\"}}"), context, "tester", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    /// <summary>Runs the action on another thread; its exception (or null) is the result.</summary>
    private static Task<Exception?> Attempt(Action action) => Task.Run(() =>
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return (Exception?)e;
        }
    });

    private static async Task<Exception?> Done(Task<Exception?> task) => await task.WaitAsync(TimeSpan.FromSeconds(30));

    private List<string> Contents(string context) => Disk.Contents(Disk.ReadAll(_dir.Open().Transcript(context)));

    [Fact]
    public async Task RemoveContext_AppendAfterItsCount_AcknowledgedEntryNeverDeleted()
    {
        _dir.Open().CreateContext("c");
        var chibi = _dir.Open();
        using var hold = HoldPoint.Arm("remove-context-counted", _dir.Root);
        var remove = Attempt(() => _dir.Open().RemoveContext("c"));
        Assert.True(hold.WaitReached(Reach), "RemoveContext never reached its count");

        var append = Attempt(() => chibi.Transcript("c").Append([Entry("c", "acknowledged")]));
        await Task.WhenAny(append, Task.Delay(Grace));
        hold.Release();
        var removeError = await Done(remove);
        var appendError = await Done(append);

        if (appendError is null)
        {
            Assert.True(Directory.Exists(_dir.ContextDir("c")), $"the append was acknowledged, then its context deleted (rmdir: {removeError?.Message ?? "ok"})");
            Assert.Contains("acknowledged", Contents("c"));
            Assert.Equal(39, Assert.IsType<StoreException>(removeError).Errno);   // ENOTEMPTY
        }
        else
        {
            Assert.Null(removeError);
            Assert.Equal(2, Assert.IsType<StoreException>(appendError, exactMatch: false).Errno);   // ENOENT, cleanly
            Assert.False(Directory.Exists(_dir.ContextDir("c")), "the failed append recreated the removed context");
        }
    }

    [Fact]
    public async Task RenameContext_DuringAnAppendAfterItsFsync_LineOnceAndAppendAcknowledged()
    {
        _dir.Open().CreateContext("a");
        var writer = _dir.Open();   // a daemon that has not appended here yet
        using var hold = HoldPoint.Arm("transcript-append-durable", _dir.Root);
        var append = Attempt(() => writer.Transcript("a").Append([Entry("a", "moving")]));
        Assert.True(hold.WaitReached(Reach), "the append never reached its fsync");

        var rename = Attempt(() => _dir.Open().RenameContext("a", "b"));
        await Task.WhenAny(rename, Task.Delay(Grace));
        hold.Release();
        var appendError = await Done(append);
        Assert.Null(await Done(rename));

        // The line is durable, so the append must not fail: a writer told it failed appends it again.
        Assert.True(appendError is null, $"the append failed after its line was durable: {appendError}");
        Assert.Equal(["Context created", "moving"], Contents("b"));
    }

    [Fact]
    public void Append_ThroughALogWhoseContextWasRemoved_FailsEnoentWithoutRecreatingIt()
    {
        _dir.Open().CreateContext("c");
        var daemon = _dir.Open();
        var transcript = daemon.Transcript("c");
        var inbox = daemon.Inbox("c");
        _dir.Open().RemoveContext("c");

        Assert.Equal(2, Assert.Throws<StoreException>(() => transcript.Append([Entry("c", "late")])).Errno);
        Assert.Equal(2, Assert.ThrowsAny<StoreException>(() => inbox.Append([Entry("c", "late")])).Errno);
        Assert.False(Directory.Exists(_dir.ContextDir("c")), "an append recreated the removed context");
    }

    [Fact]
    public async Task CreateContext_SameNameTwiceAtOnce_ExactlyOneSucceedsWithOneAnchor()
    {
        for (int i = 0; i < 200; i++)
        {
            string name = $"r{i}";
            using var start = new Barrier(2);
            var a = _dir.Open();
            var b = _dir.Open();
            var first = Attempt(() => { start.SignalAndWait(); a.CreateContext(name); });
            var second = Attempt(() => { start.SignalAndWait(); b.CreateContext(name); });
            var errors = new[] { await Done(first), await Done(second) };
            Assert.Equal(1, errors.Count(e => e is null));
            Assert.Equal(17, Assert.IsType<StoreException>(errors.Single(e => e is not null)).Errno);   // EEXIST
            Assert.Equal(["Context created"], Contents(name));
        }
    }

    [Fact]
    public async Task Measure_RotationAndAppendBetweenLayoutAndActive_SizeNeverShrinks()
    {
        var options = new StorageOptions(MaxEntries: 3);
        var writer = _dir.Open(options);
        writer.CreateContext("c");
        writer.Transcript("c").Append([Entry("c", "one")]);
        var reader = _dir.Open(options).Transcript("c");
        long before = reader.Length;

        using var hold = HoldPoint.Arm("transcript-measure-after-layout", _dir.Root);
        var measured = Task.Run(() => reader.Length);
        Assert.True(hold.WaitReached(Reach), "Measure never reached its layout");
        writer.Transcript("c").Append([Entry("c", "two")]);     // the third entry: rotation
        writer.Transcript("c").Append([Entry("c", "three")]);   // a new, short active.jsonl
        hold.Release();
        long length = await measured.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(length >= before, $"the size shrank from {before} to {length} across a rotation");
        Assert.Equal(Disk.Concatenation(_dir.TranscriptDir("c")).LongLength, length);
    }

    [Fact]
    public async Task Read_InTheOldActivePartitionAcrossARotation_BytesNeverChange()
    {
        var options = new StorageOptions(MaxEntries: 3);
        var writer = _dir.Open(options);
        writer.CreateContext("c");
        writer.Transcript("c").Append([Entry("c", "one")]);
        byte[] whole = Disk.Concatenation(_dir.TranscriptDir("c"));
        var reader = _dir.Open(options).Transcript("c");
        Assert.Equal(whole.LongLength, reader.Length);

        // 16 bytes inside the anchor's id: every entry starts with {"id":", its id differs.
        const int Offset = 10;
        using var hold = HoldPoint.Arm("transcript-read-after-archived", _dir.Root);
        var read = Task.Run(() =>
        {
            var buffer = new byte[16];
            int n = reader.Read(buffer, Offset);
            return buffer[..n];
        });
        Assert.True(hold.WaitReached(Reach), "Read never reached active.jsonl");
        writer.Transcript("c").Append([Entry("c", "two")]);     // rotation: the bytes move to a partition
        writer.Transcript("c").Append([Entry("c", "three")]);   // a new active.jsonl at the old offsets
        hold.Release();
        byte[] got = await read.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Encoding.UTF8.GetString(whole.AsSpan(Offset, 16)), Encoding.UTF8.GetString(got));
    }

    [Fact]
    public async Task Repair_WhileARotationHasWrittenItsBloomFile_KeepsIt()
    {
        var options = new StorageOptions(MaxEntries: 3);
        var daemon = _dir.Open(options);
        daemon.CreateContext("c");
        daemon.Transcript("c").Append([Entry("c", "one")]);

        using var hold = HoldPoint.Arm("rotation-after-bloom", _dir.Root);
        var append = Attempt(() => daemon.Transcript("c").Append([Entry("c", "two")]));
        Assert.True(hold.WaitReached(Reach), "the rotation never wrote its bloom file");
        var repair = Task.Run(() => StoreCheck.Run(_dir.Open(), repair: true));
        await Task.WhenAny(repair, Task.Delay(Grace));
        hold.Release();
        Assert.Null(await Done(append));
        Assert.Empty(await repair.WaitAsync(TimeSpan.FromSeconds(30)));

        var manifest = Disk.Manifest(_dir.TranscriptDir("c"));
        var blooms = manifest["partitions"]!.AsArray().Select(p => p!["bloom_file"]!.GetValue<string>()).ToList();
        Assert.Single(blooms);
        Assert.True(File.Exists(Path.Combine(_dir.TranscriptDir("c"), blooms[0])), $"repair deleted {blooms[0]} of a rotation in progress");
        Assert.Empty(StoreCheck.Run(_dir.Open(), repair: false));
    }

    [Fact]
    public async Task TextLog_FailedAppendWhileChibiAppends_ChibisLineKept()
    {
        _dir.Open().CreateContext("c");
        string md = Path.Combine(_dir.ContextDir("c"), "transcript.md");

        using var hold = HoldPoint.Arm("text-log-after-write", _dir.Root, failWith: 5);   // EIO after the write
        var append = Attempt(() => _dir.Open().TextLog("c").Append(Encoding.UTF8.GetBytes("mine\n")));
        Assert.True(hold.WaitReached(Reach), "the append never wrote");
        File.AppendAllText(md, "chibi's line\n");   // chibi appends to transcript.md without a lock
        hold.Release();
        Assert.Equal(5, Assert.IsType<PosixException>(await Done(append)).Errno);

        Assert.Contains("chibi's line\n", File.ReadAllText(md));
    }

    [Fact]
    public void Repair_BesideAWritingHandleIdleForMinutes_KeepsItsStagedCopy()
    {
        var store = _dir.Open();
        var fs = new VfsMount.FileSystem.ContextFileSystem(store, TextWriter.Null);
        Assert.Equal(0, fs.Mkdir("/c", 0x1ED, new VfsMount.FileSystem.Caller(0, 0, Environment.ProcessId)));
        Assert.Equal(0, fs.Open("/c/summary.md", VfsMount.FileSystem.OpenFlags.Write, new VfsMount.FileSystem.Caller(0, 0, 0), out var opened));
        Assert.Equal(0, fs.Write(opened.Handle, "kept\n"u8, 0, out _));
        // The program holding it open went quiet: its staged copy is older than recovery's grace.
        string staged = Assert.Single(Directory.GetFiles(_dir.ContextDir("c"), ".vfsmount-tmp-summary.md.*"));
        File.SetLastWriteTimeUtc(staged, DateTime.UtcNow.AddMinutes(-5));

        StoreCheck.Run(_dir.Open(), repair: true);   // `vfsmount check --repair`, or a second daemon mounting

        Assert.Equal(0, fs.Flush(opened.Handle));
        Assert.Equal(0, fs.Release(opened.Handle));
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(_dir.ContextDir("c"), "summary.md")));
    }
}

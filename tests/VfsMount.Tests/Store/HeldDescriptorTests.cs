using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>
/// A transcript keeps .transcript.lock and active.jsonl open between appends (HeldLog). What
/// others do to those names in between — rotate, replace or remove the lock file, rename or
/// remove the context, delete .dirty — must change nothing of what an append guarantees. Each
/// test appends once first, so that the descriptors are held when the other program acts.
/// </summary>
public sealed class HeldDescriptorTests : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(500);
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CompletedEntry Entry(string context, string content) =>
        EntryCompleter.Transcript(Encoding.UTF8.GetBytes($"{{\"content\":\"{content}\"}}"), context, "tester", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private string Active(string context) => Path.Combine(_dir.TranscriptDir(context), "active.jsonl");

    private List<string> Contents(string context) => Disk.Contents(Disk.Concatenation(_dir.TranscriptDir(context)));

    [Fact]
    public void Append_AfterAnotherDaemonRotatedUnderTheHeldDescriptor_LandsInTheNewActivePartition()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        daemon.Transcript("c").Append([Entry("c", "before")]);

        _dir.Open().Transcript("c").Rotate();   // another daemon: active.jsonl becomes a partition
        string partition = Path.Combine(_dir.TranscriptDir("c"), Disk.Manifest(_dir.TranscriptDir("c"))["partitions"]![0]!["file"]!.GetValue<string>());
        byte[] archived = File.ReadAllBytes(partition);
        daemon.Transcript("c").Append([Entry("c", "after")]);

        Assert.Equal(archived, File.ReadAllBytes(partition));   // a partition never changes
        Assert.Equal(["after"], Disk.Contents(File.ReadAllBytes(Active("c"))));
        Assert.Equal(["Context created", "before", "after"], Contents("c"));
    }

    [Fact]
    public void Append_AfterChibiRenamedActiveAway_LandsInANewActiveJsonl()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        daemon.Transcript("c").Append([Entry("c", "before")]);

        // chibi's rotation, its steps only: under the lock, active.jsonl renamed into partitions/.
        string dir = _dir.TranscriptDir("c");
        Directory.CreateDirectory(Path.Combine(dir, "partitions"));
        using (var held = FileLock.Acquire(Path.Combine(dir, ".transcript.lock")))
            File.Move(Active("c"), Path.Combine(dir, "partitions", "1-2.jsonl"));
        daemon.Transcript("c").Append([Entry("c", "after")]);

        Assert.Equal(["Context created", "before"], Disk.Contents(File.ReadAllBytes(Path.Combine(dir, "partitions", "1-2.jsonl"))));
        Assert.Equal(["after"], Disk.Contents(File.ReadAllBytes(Active("c"))));
    }

    [Fact]
    public void Append_AfterChibiAppended_MendsNothingAndCountsTheirLine()
    {
        var daemon = _dir.Open(new StorageOptions(MaxEntries: 4));
        daemon.CreateContext("c");
        daemon.Transcript("c").Append([Entry("c", "one")]);
        ChibiWriter.Append(_dir.TranscriptDir("c"), ChibiWriter.Entry("c", "chibi's", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        daemon.Transcript("c").Append([Entry("c", "two")]);   // the fourth entry: rotation, so chibi's line was counted

        Assert.Equal(["Context created", "one", "chibi's", "two"], Contents("c"));
        Assert.False(File.Exists(Active("c")), "the fourth entry did not rotate: chibi's line was not counted");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Append_AfterTheLockFileWasReplacedOrRemoved_StillExcludesChibi(bool replaced)
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        daemon.Transcript("c").Append([Entry("c", "before")]);

        string lockPath = Path.Combine(_dir.TranscriptDir("c"), ".transcript.lock");
        if (replaced)
        {
            File.WriteAllText(lockPath + ".new", "");
            File.Move(lockPath + ".new", lockPath, overwrite: true);
        }
        else
        {
            File.Delete(lockPath);
        }
        // chibi opens the name (creating it when removed) and holds its flock.
        using var chibi = PosixFile.OpenOrThrow(lockPath, PosixFile.ReadWrite | PosixFile.Create, 0x1A4);
        Assert.Equal(0, chibi.Lock(exclusive: true));
        var append = Task.Run(() => daemon.Transcript("c").Append([Entry("c", "after")]));
        await Task.WhenAny(append, Task.Delay(Grace));
        Assert.False(append.IsCompleted, "the append did not wait for chibi's lock: it locked the old lock file it held");
        Assert.Equal(["Context created", "before"], Contents("c"));

        Assert.Equal(0, chibi.Unlock());
        await append.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["Context created", "before", "after"], Contents("c"));
    }

    [Fact]
    public void Append_AfterAnotherDaemonRenamedTheContext_FailsEnoentAndWritesNowhere()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("a");
        var log = daemon.Transcript("a");
        log.Append([Entry("a", "before")]);

        _dir.Open().RenameContext("a", "b");

        Assert.Equal(2, Assert.ThrowsAny<StoreException>(() => log.Append([Entry("a", "late")])).Errno);
        Assert.False(Directory.Exists(_dir.ContextDir("a")), "the append recreated the renamed context");
        Assert.Equal(["Context created", "before"], Contents("b"));
    }

    [Fact]
    public void Append_AfterAnotherDaemonRemovedTheContext_FailsEnoentWithoutRecreatingIt()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        var log = daemon.Transcript("c");
        log.Append([Entry("c", "before")]);
        File.WriteAllText(Active("c"), File.ReadAllLines(Active("c"))[0] + "\n");   // back to the anchor alone: removable

        _dir.Open().RemoveContext("c");

        Assert.Equal(2, Assert.ThrowsAny<StoreException>(() => log.Append([Entry("c", "late")])).Errno);
        Assert.False(Directory.Exists(_dir.ContextDir("c")), "the append recreated the removed context");
    }

    [Fact]
    public void Append_ThroughALogThisStoreRenamedAway_FailsEnoentAndLeavesTheRenamedContextAlone()
    {
        var store = _dir.Open();
        store.CreateContext("a");
        var log = store.Transcript("a");   // an open handle keeps this object
        log.Append([Entry("a", "before")]);

        store.RenameContext("a", "b");

        Assert.Equal(2, Assert.ThrowsAny<StoreException>(() => log.Append([Entry("a", "late")])).Errno);
        Assert.Equal(["Context created", "before"], Contents("b"));
        store.Transcript("b").Append([Entry("b", "new name")]);
        Assert.Equal(["Context created", "before", "new name"], Contents("b"));
    }

    [Fact]
    public void Append_AfterChibiDeletedDirty_MakesItAgain()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        string dirty = Path.Combine(_dir.ContextDir("c"), ".dirty");
        daemon.Transcript("c").Append([Entry("c", "one")]);
        Assert.True(File.Exists(dirty));

        File.Delete(dirty);   // chibi's load rebuilt the window
        daemon.Transcript("c").Append([Entry("c", "two")]);
        Assert.True(File.Exists(dirty), "the append after chibi's load left no .dirty: the window misses it");

        daemon.Transcript("c").Append([Entry("c", "three")]);   // present: left as it is
        Assert.True(File.Exists(dirty));
    }
    [Fact]
    public void InboxAppend_AfterChibiClearedItInPlaceAndAfterItWasReplaced_LandsInTheFileAtTheName()
    {
        var daemon = _dir.Open();
        daemon.CreateContext("c");
        var inbox = daemon.Inbox("c");
        inbox.Append([Entry("c", "one")]);

        using (var held = FileLock.Acquire(inbox.LockPath))
            File.WriteAllBytes(inbox.Path, []);   // chibi's read-and-clear: truncated in place, same inode
        inbox.Append([Entry("c", "two")]);
        Assert.Equal(["two"], Disk.Contents(File.ReadAllBytes(inbox.Path)));

        File.WriteAllText(inbox.Path + ".new", "");
        File.Move(inbox.Path + ".new", inbox.Path, overwrite: true);   // replaced: the held descriptor is of the old file
        inbox.Append([Entry("c", "three")]);
        Assert.Equal(["three"], Disk.Contents(File.ReadAllBytes(inbox.Path)));
    }
}

using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Recovery;

namespace VfsMount.Tests.Store;

/// <summary>
/// A child `vfsmount append` ends with _exit(70) at a crash point (VFSMOUNT_CRASH_AT); then
/// `vfsmount check` reports, `check --repair` mends, and nothing acknowledged is lost.
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private const string Ctx = "ctx";
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    private string TDir => _dir.TranscriptDir(Ctx);
    private string Active => Path.Combine(TDir, "active.jsonl");
    private string PartitionsDir => Path.Combine(TDir, "partitions");

    /// <summary>A context made as chibi would, with acknowledged lines appended in this process.</summary>
    private void CreateWith(params string[] contents)
    {
        var store = _dir.Open();
        store.CreateContext(Ctx);
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var c in contents)
            store.Transcript(Ctx).Append([EntryCompleter.Transcript(Encoding.UTF8.GetBytes($"{{\"content\":\"{c}\"}}"), Ctx, "alice", now)]);
    }

    private static string Line(string content) => $"{{\"content\":\"{content}\"}}";

    private List<string> TranscriptContents() => Disk.Contents(Disk.ReadAll(_dir.Open().Transcript(Ctx)));

    private void CheckReportsThenRepairs(params string[] problems)
    {
        var check = Cli.Check(_dir.Root);
        Assert.True(check.ExitCode == 1, check.ToString());
        foreach (var p in problems) Assert.Contains(p, check.Stdout);
        var repair = Cli.Check(_dir.Root, repair: true);
        Assert.True(repair.ExitCode == 0, repair.ToString());
        foreach (var p in problems) Assert.Contains(p, repair.Stdout);
        AssertConsistent();
    }

    private void AssertConsistent()
    {
        var again = Cli.Check(_dir.Root);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("store is consistent", again.Stdout);
    }

    private void AssertStillAppends(string content)
    {
        var r = Cli.Append(_dir.Root, Ctx, [Line(content)]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(content, TranscriptContents()[^1]);
        AssertConsistent();
    }

    [Fact]
    public void Crash_RotationAfterRename_OrphanTakenBack()
    {
        CreateWith("before-1", "before-2");
        var r = Cli.Append(_dir.Root, Ctx, [Line("crash-line"), Line("never-read")], crashAt: "rotation-after-rename", maxEntries: 4);
        Assert.True(r.ExitCode == 70, r.ToString());
        Assert.False(File.Exists(Active));
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
        string orphan = Assert.Single(Directory.GetFiles(PartitionsDir, "*.jsonl"));

        CheckReportsThenRepairs($"partition partitions/{Path.GetFileName(orphan)} is missing from the manifest");

        Assert.Equal(["Context created", "before-1", "before-2", "crash-line"], TranscriptContents());
        var manifest = Disk.Manifest(TDir);
        var record = Assert.Single(manifest["partitions"]!.AsArray())!;
        Assert.Equal($"partitions/{Path.GetFileName(orphan)}", record["file"]!.GetValue<string>());
        Assert.Equal(4, record["entry_count"]!.GetValue<long>());
        AssertStillAppends("after");
    }

    [Fact]
    public void Crash_RotationAfterRename_RepairedManifestHasChibisRequiredFields()
    {
        // chibi's Manifest struct requires version, active_partition, partitions and
        // rotation_policy {max_entries, max_age_seconds}: without them chibi stops on the store.
        CreateWith("before-1");
        Assert.Equal(70, Cli.Append(_dir.Root, Ctx, [Line("x")], crashAt: "rotation-after-rename", maxEntries: 3).ExitCode);
        Assert.Equal(0, Cli.Check(_dir.Root, repair: true).ExitCode);

        var manifest = Disk.Manifest(TDir);
        Assert.Equal(["version", "active_partition", "partitions", "rotation_policy"], manifest.Select(kv => kv.Key));
        Assert.Equal(1, manifest["version"]!.GetValue<int>());
        var policy = manifest["rotation_policy"]!.AsObject();
        Assert.True(policy["max_entries"]!.GetValue<long>() >= 1);
        Assert.True(policy["max_age_seconds"]!.GetValue<long>() >= 60);
    }

    [Fact]
    public void Crash_AppendBeforeFsync_WrittenLineWholeAndOnce()
    {
        CreateWith("before-1");
        var r = Cli.Append(_dir.Root, Ctx, [Line("unsynced"), Line("never-written")], crashAt: "append-before-fsync");
        Assert.True(r.ExitCode == 70, r.ToString());
        Assert.Equal((byte)'\n', File.ReadAllBytes(Active)[^1]);

        // Nothing to mend: the line is whole (a crash of the process does not lose the page cache).
        AssertConsistent();
        Assert.Equal(0, Cli.Check(_dir.Root, repair: true).ExitCode);
        AssertConsistent();
        Assert.Equal(["Context created", "before-1", "unsynced"], TranscriptContents());
        AssertStillAppends("after");
    }

    [Fact]
    public void Crash_AppendMidWrite_TornTailQuarantined()
    {
        CreateWith("before-1", "before-2");
        long acknowledged = new FileInfo(Active).Length;
        var r = Cli.Append(_dir.Root, Ctx, [Line("torn-" + new string('z', 40))], crashAt: "append-mid-write");
        Assert.True(r.ExitCode == 70, r.ToString());
        byte[] bytes = File.ReadAllBytes(Active);
        Assert.NotEqual((byte)'\n', bytes[^1]);
        byte[] fragment = bytes[(int)acknowledged..];

        CheckReportsThenRepairs("active.jsonl ends with a torn line");

        Assert.Equal(acknowledged, new FileInfo(Active).Length);
        Assert.Equal(["Context created", "before-1", "before-2"], TranscriptContents());
        var kept = Assert.Single(_dir.Open().Quarantine.Entries());
        Assert.StartsWith(Path.Combine(_dir.Root, ".vfsmount", "quarantine"), kept);
        Assert.Equal(fragment, File.ReadAllBytes(kept));
        Assert.StartsWith("{\"id\":\"", Encoding.UTF8.GetString(fragment));
        Assert.Contains("torn tail", File.ReadAllText(kept + ".reason"));
        AssertStillAppends("after");
    }

    [Fact]
    public void Crash_AppendMidWrite_NextAppendMendsBeforeWriting()
    {
        CreateWith("before-1");
        Assert.Equal(70, Cli.Append(_dir.Root, Ctx, [Line("torn-line-content")], crashAt: "append-mid-write").ExitCode);

        // No repair: the next append (here a chibi-compatible CLI append) must not glue onto the fragment.
        var r = Cli.Append(_dir.Root, Ctx, [Line("next")]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["Context created", "before-1", "next"], TranscriptContents());
        Assert.Single(_dir.Open().Quarantine.Entries());
        AssertConsistent();
    }

    [Fact]
    public void Crash_DocumentBeforeRename_BloomTempOfTheDeadWriterRemovedAtOnce()
    {
        CreateWith("before-1", "before-2");
        var r = Cli.Append(_dir.Root, Ctx, [Line("crash-line")], crashAt: "document-before-rename", maxEntries: 4);
        Assert.True(r.ExitCode == 70, r.ToString());
        // The bloom file is the first atomic write of a rotation: it died before the rename of active.jsonl.
        string temp = Assert.Single(Directory.GetFiles(PartitionsDir));
        Assert.StartsWith(".vfsmount-tmp-", Path.GetFileName(temp));
        Assert.True(File.Exists(Active));

        // The writer that held the temp file's lock is dead: the file is stray at once, however young
        // (a live writer's temp files are held, and left alone however old: RaceTests).
        CheckReportsThenRepairs($"stray temp file {temp}");
        Assert.False(File.Exists(temp));
        Assert.Equal(["Context created", "before-1", "before-2", "crash-line"], TranscriptContents());

        // The next append rotates as it should have (4 entries ≥ 4 after it: 5).
        var next = Cli.Append(_dir.Root, Ctx, [Line("after")], maxEntries: 4);
        Assert.Equal(0, next.ExitCode);
        Assert.Equal(5, Disk.Manifest(TDir)["partitions"]![0]!["entry_count"]!.GetValue<long>());
        Assert.Equal(["Context created", "before-1", "before-2", "crash-line", "after"], TranscriptContents());
        AssertConsistent();
    }

    [Fact]
    public void Crash_DocumentBeforeRename_ManifestSaveLeavesOrphanAndTemp()
    {
        File.WriteAllText(Path.Combine(_dir.Root, "config.toml"), "[storage]\nenable_bloom_filters = false\n");
        CreateWith("before-1", "before-2");
        var r = Cli.Append(_dir.Root, Ctx, [Line("crash-line")], crashAt: "document-before-rename", maxEntries: 4);
        Assert.True(r.ExitCode == 70, r.ToString());
        Assert.False(File.Exists(Active));
        Assert.False(File.Exists(Path.Combine(TDir, "manifest.json")));
        string orphan = Path.GetFileName(Assert.Single(Directory.GetFiles(PartitionsDir, "*.jsonl")));
        string temp = Assert.Single(Directory.GetFiles(TDir, ".vfsmount-tmp-*"));
        Assert.StartsWith(".vfsmount-tmp-manifest.json.", Path.GetFileName(temp));

        File.SetLastWriteTimeUtc(temp, DateTime.UtcNow.AddMinutes(-5));
        CheckReportsThenRepairs($"stray temp file {temp}", $"partition partitions/{orphan} is missing from the manifest");
        Assert.False(File.Exists(temp));
        Assert.Equal(["Context created", "before-1", "before-2", "crash-line"], TranscriptContents());
        Assert.Equal(4, Disk.Manifest(TDir)["partitions"]![0]!["entry_count"]!.GetValue<long>());
        AssertStillAppends("after");
    }

    [Fact]
    public void Check_ChibiTempFiles_OldRemovedYoungKept()
    {
        CreateWith();
        string old = Path.Combine(_dir.Root, "state.tmp.123");
        string young = Path.Combine(_dir.ContextDir(Ctx), ".lock.tmp.456");
        string notTemp = Path.Combine(_dir.ContextDir(Ctx), "notes.tmp.txt");
        File.WriteAllText(old, "{}");
        File.WriteAllText(young, "1");
        File.WriteAllText(notTemp, "mine");
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddHours(-1));
        File.SetLastWriteTimeUtc(notTemp, DateTime.UtcNow.AddHours(-1));

        CheckReportsThenRepairs($"stray temp file {old}");
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(young));
        Assert.True(File.Exists(notTemp));
    }

    [Fact]
    public void Check_ScratchTempLookalikes_NeverDeleted()
    {
        CreateWith();
        string ctx = _dir.ContextDir(Ctx);
        Directory.CreateDirectory(Path.Combine(ctx, "dir"));
        // A user's names shaped like temp files, where chibi and the mount put none of theirs:
        string[] mine =
        [
            Path.Combine(ctx, "notes.tmp.5"),                     // not a stem of chibi's files
            Path.Combine(ctx, "summary.md.tmp.7"),                // chibi's would be summary.tmp.7
            Path.Combine(ctx, "dir", "summary.tmp.7"),            // a scratch directory: all the user's
            Path.Combine(ctx, "dir", ".vfsmount-tmp-x.md.abc"),
            Path.Combine(_dir.Root, "notes.tmp.5"),
        ];
        string chibis = Path.Combine(ctx, "context_meta.tmp.9");
        foreach (var path in mine.Append(chibis))
        {
            File.WriteAllText(path, "x");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
        }

        CheckReportsThenRepairs($"stray temp file {chibis}");
        Assert.False(File.Exists(chibis));
        foreach (var path in mine) Assert.True(File.Exists(path), $"{path} was deleted");
        var report = Cli.Check(_dir.Root, repair: true).Stdout;
        foreach (var path in mine) Assert.DoesNotContain(path, report);
    }

    [Fact]
    public void Check_TornInboxTail_Quarantined()
    {
        CreateWith();
        string inbox = Path.Combine(_dir.ContextDir(Ctx), "inbox.jsonl");
        File.WriteAllText(inbox, "{\"id\":\"1\",\"timestamp\":1,\"from\":\"a\",\"to\":\"ctx\",\"content\":\"ok\"}\n{\"id\":\"2\",\"tim");
        CheckReportsThenRepairs("inbox.jsonl ends with a torn line");
        Assert.EndsWith("\"content\":\"ok\"}\n", File.ReadAllText(inbox));
        Assert.Equal("{\"id\":\"2\",\"tim", File.ReadAllText(Assert.Single(_dir.Open().Quarantine.Entries())));
    }

    [Fact]
    public void Check_ManifestListsMissingPartition_Dropped()
    {
        var store = _dir.Open(new VfsMount.Store.Transcript.StorageOptions(MaxEntries: 2));
        store.CreateContext(Ctx);
        store.Transcript(Ctx).Append([EntryCompleter.Transcript("{\"content\":\"x\"}"u8, Ctx, "alice", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds())]);
        string partition = Assert.Single(Directory.GetFiles(PartitionsDir, "*.jsonl"));
        File.Delete(partition);
        CheckReportsThenRepairs("which does not exist");
        Assert.Empty(Disk.Manifest(TDir)["partitions"]!.AsArray());
    }

    [Fact]
    public void Check_InProcess_ReportsAndMendsSameAsCli()
    {
        CreateWith("a");
        File.AppendAllText(Active, "{\"frag");
        var store = _dir.Open();
        Assert.Single(StoreCheck.Run(store, repair: false));
        var mended = new List<string>();
        Assert.Empty(StoreCheck.Run(store, repair: true, mended));
        Assert.Single(mended);
        Assert.Empty(StoreCheck.Run(store, repair: false));
    }
}

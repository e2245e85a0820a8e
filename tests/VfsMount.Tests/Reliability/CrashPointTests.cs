using System.Text.Json;
using VfsMount.Tests.Mount;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §3 recovery, driven through the daemon: the mount is started with VFSMOUNT_CRASH_AT armed,
/// an operation through the mount reaches the crash point and the daemon dies there (_exit(70)) in
/// the middle of it; the writer gets an error. The next mount (recovery runs first) must show every
/// acknowledged line exactly once, no torn line, and a document old or new but whole.
/// </summary>
[Collection("Mount")]
public sealed class CrashPointTests
{
    private static readonly string[] Before = ["before-1", "before-2"];

    /// <summary>
    /// Mounts, makes context ctx with the acknowledged lines, unmounts cleanly, and mounts again
    /// with the crash point armed (so mkdir and the lines before do not reach it).
    /// </summary>
    private static MountedStore Armed(string crashAt, string args = "", string[]? lines = null, Action<MountedStore>? prepare = null)
    {
        var m = MountedStore.Start(args);
        try
        {
            m.Ok("mkdir ctx");
            foreach (var l in lines ?? Before) m.Ok($"echo '{{\"content\":\"{l}\"}}' >> ctx/transcript.jsonl");
            prepare?.Invoke(m);
            Assert.Equal(0, m.Terminate());
            m.Mount(args, new Dictionary<string, string> { ["VFSMOUNT_CRASH_AT"] = crashAt });
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>One write(2) of data to ctx/transcript.jsonl; prints "ok N" or "error ERRNO".</summary>
    private static (int Exit, string Out, string Err) WriteOnce(MountedStore m, string data) => m.Python($$"""
        fd = os.open(os.path.join(MNT, 'ctx', 'transcript.jsonl'), os.O_WRONLY | os.O_APPEND)
        try:
            print('ok', os.write(fd, {{CrashSupport.PyBytes(data)}}))
        except OSError as e:
            print('error', errno.errorcode.get(e.errno, e.errno))
        """, timeoutSeconds: 30);

    private static void AssertWriterFailed((int Exit, string Out, string Err) writer, MountedStore m)
    {
        Assert.True(writer.Exit == 0, $"writer: {writer.Err}");
        Assert.True(writer.Out.StartsWith("error", StringComparison.Ordinal), $"the writer was not told of the crash: {writer.Out}\n{m.Log}");
    }

    /// <summary>Clean up the dead mount, mount again without the crash point (recovery runs first).</summary>
    private static void Recover(MountedStore m, string args = "")
    {
        m.Crash();
        m.Mount(args);
    }

    private static void AssertTranscript(MountedStore m, string[] expected)
    {
        var contents = CrashSupport.TranscriptContents(m, "ctx");
        CrashSupport.AssertExactlyOnce(contents, expected);
        Assert.Equal(expected, contents);
        CrashSupport.AssertNoTornFileInStore(m, "ctx");
    }

    private static void AssertStillAppendsThenConsistent(MountedStore m, string[] expected)
    {
        m.Ok("echo '{\"content\":\"after\"}' >> ctx/transcript.jsonl");
        AssertTranscript(m, [.. expected, "after"]);
        Assert.Equal(0, m.Terminate());
        CrashSupport.AssertCheckConsistent(m);
    }

    [Fact]
    public void RotationAfterRename_DaemonDiesBetweenRenameAndManifest_OrphanTakenBackAtMount()
    {
        // max 3 entries: anchor + before-1 + before-2 rotate once cleanly; the crash is in the second rotation.
        const string Args = "--partition-max-entries 3";
        using var m = Armed("rotation-after-rename", Args);
        string tdir = m.StorePath("contexts", "ctx", "transcript");
        Assert.Single(Directory.GetFiles(Path.Combine(tdir, "partitions"), "*.jsonl"));
        m.Ok("echo '{\"content\":\"armed-1\"}' >> ctx/transcript.jsonl");
        m.Ok("echo '{\"content\":\"armed-2\"}' >> ctx/transcript.jsonl");

        // The third line is durable before the rotation starts, but its writer is never answered.
        var writer = WriteOnce(m, "{\"content\":\"rotating\"}\n");
        CrashSupport.AssertDiedAtCrashPoint(m);
        AssertWriterFailed(writer, m);
        Assert.False(File.Exists(Path.Combine(tdir, "active.jsonl")));
        var files = Directory.GetFiles(Path.Combine(tdir, "partitions"), "*.jsonl").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, files.Count);
        using (var stale = JsonDocument.Parse(File.ReadAllText(Path.Combine(tdir, "manifest.json"))))
            Assert.Single(stale.RootElement.GetProperty("partitions").EnumerateArray());

        Recover(m, Args);

        Assert.True(LogView.WaitFor(() => m.Log.Contains("missing from the manifest", StringComparison.Ordinal), TimeSpan.FromSeconds(5)), m.Log);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(tdir, "manifest.json"))))
        {
            var records = manifest.RootElement.GetProperty("partitions").EnumerateArray().ToList();
            Assert.Equal(2, records.Count);
            Assert.Equal([3L, 3L], records.Select(r => r.GetProperty("entry_count").GetInt64()));
            var listed = records.Select(r => Path.GetFileName(r.GetProperty("file").GetString()!)).ToList();
            Assert.Equal(files, listed.Order(StringComparer.Ordinal));
            Assert.True(File.Exists(Path.Combine(tdir, Path.ChangeExtension(records[1].GetProperty("file").GetString()!, ".bloom"))));
        }
        string[] all = ["Context created", "before-1", "before-2", "armed-1", "armed-2", "rotating"];
        AssertTranscript(m, all);
        AssertStillAppendsThenConsistent(m, all);
    }

    [Fact]
    public void DocumentBeforeRename_DaemonDiesInCommit_DocumentOldOrNewWholeNoTempListed()
    {
        string old = string.Concat(Enumerable.Range(0, 2000).Select(i => $"old line {i}\n"));
        string @new = string.Concat(Enumerable.Range(0, 3000).Select(i => $"new line {i}\n"));
        using var m = Armed("document-before-rename", prepare: m =>
        {
            File.WriteAllText(Path.Combine(m.Root, "old.md"), old);
            m.Ok($"cp {m.Root}/old.md ctx/summary.md");
        });
        File.WriteAllText(Path.Combine(m.Root, "new.md"), @new);

        var writer = m.Python($$"""
            data = open('{{m.Root}}/new.md', 'rb').read()
            try:
                fd = os.open(os.path.join(MNT, 'ctx', 'summary.md'), os.O_WRONLY | os.O_TRUNC)
                os.write(fd, data)
                os.close(fd)
                print('ok')
            except OSError as e:
                print('error', errno.errorcode.get(e.errno, e.errno))
            """, timeoutSeconds: 30);
        CrashSupport.AssertDiedAtCrashPoint(m);
        AssertWriterFailed(writer, m);
        Assert.NotEmpty(CrashSupport.MountTemps(m));   // the staged copy and the commit's temp file

        Recover(m);

        string shown = m.Ok("cat ctx/summary.md");
        Assert.True(shown == old || shown == @new, $"summary.md is neither the old content nor the new ({shown.Length} bytes)");
        Assert.Equal(File.ReadAllText(m.StorePath("contexts", "ctx", "summary.md")), shown);
        string listing = m.Ok("ls -A ctx");
        Assert.DoesNotContain(".vfsmount-tmp-", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("tmp", listing, StringComparison.Ordinal);
        foreach (var temp in CrashSupport.MountTemps(m))
            Assert.NotEqual(0, m.Sh($"cat 'ctx/{Path.GetFileName(temp)}'").Exit);
        string[] all = ["Context created", .. Before];
        AssertTranscript(m, all);
        // The dead daemon's staged copy was unheld from its death on: the mount's recovery removed it at once.
        Assert.Empty(CrashSupport.MountTemps(m));
        AssertStillAppendsThenConsistent(m, all);
        CrashSupport.RecoverRemovesDeadTemps(m);
        CrashSupport.AssertCheckConsistent(m);
        Assert.Equal(shown, File.ReadAllText(m.StorePath("contexts", "ctx", "summary.md")));
    }

    [Fact]
    public void AppendBeforeFsync_DaemonDiesBeforeFsync_LineWholeOnceAfterRemount()
    {
        using var m = Armed("append-before-fsync");
        var writer = WriteOnce(m, "{\"content\":\"unsynced\"}\n");
        CrashSupport.AssertDiedAtCrashPoint(m);
        AssertWriterFailed(writer, m);

        Recover(m);

        // Not acknowledged, so it may be there or not, but at most once and whole. The process died,
        // not the machine: the page cache kept the written line, so here it is there.
        string[] all = ["Context created", .. Before, "unsynced"];
        AssertTranscript(m, all);
        AssertStillAppendsThenConsistent(m, all);
    }

    [Fact]
    public void AppendMidWrite_DaemonDiesHalfwayThroughMultiLineWrite_TornTailQuarantinedAtMount()
    {
        using var m = Armed("append-mid-write");
        long acknowledged = new FileInfo(m.StorePath("contexts", "ctx", "transcript", "active.jsonl")).Length;
        string pad = new('p', 300);
        var writer = WriteOnce(m, $"{{\"content\":\"torn-1-{pad}\"}}\n{{\"content\":\"torn-2-{pad}\"}}\n{{\"content\":\"torn-3-{pad}\"}}\n");
        CrashSupport.AssertDiedAtCrashPoint(m);
        AssertWriterFailed(writer, m);
        byte[] left = File.ReadAllBytes(m.StorePath("contexts", "ctx", "transcript", "active.jsonl"));
        Assert.NotEqual((byte)'\n', left[^1]);
        int cut = Array.LastIndexOf(left, (byte)'\n') + 1;
        byte[] fragment = left[cut..];
        Assert.True(cut >= acknowledged);
        Assert.Empty(LogView.QuarantineFiles(m));

        Recover(m);

        // The half-written bytes after the last '\n' went to the quarantine, not into the transcript.
        string kept = Assert.Single(LogView.QuarantineFiles(m));
        Assert.StartsWith(m.StorePath(".vfsmount", "quarantine"), kept, StringComparison.Ordinal);
        Assert.Equal(fragment, File.ReadAllBytes(kept));
        Assert.True(LogView.WaitFor(() => m.Log.Contains("torn", StringComparison.Ordinal), TimeSpan.FromSeconds(5)), m.Log);
        var contents = CrashSupport.TranscriptContents(m, "ctx");
        string[] before = ["Context created", .. Before];
        Assert.Equal(before, contents.Take(before.Length));
        // The unacknowledged request: at most once each, never torn. Known gap: SPEC §2.1 says a
        // request's lines go in "together or not at all", but the lines of it that were complete in
        // the half written before the crash stay — recovery cuts only after the last '\n' and
        // cannot tell where the request began (that would take an append intent record).
        var rest = contents.Skip(before.Length).ToList();
        int wholeInHalf = left.AsSpan((int)acknowledged).Count((byte)'\n');
        Assert.Equal(Enumerable.Range(1, wholeInHalf).Select(i => $"torn-{i}-{pad}"), rest);
        CrashSupport.AssertExactlyOnce(contents, before);
        CrashSupport.AssertNoTornFileInStore(m, "ctx");
        AssertStillAppendsThenConsistent(m, [.. before, .. rest]);
    }

    [Fact]
    public void RmdirAfterTrash_DaemonDiesBeforeTheTrashIsDeleted_ContextGoneTrashEmptiedAtMount()
    {
        using var m = Armed("rmdir-after-trash", prepare: s => s.Ok("mkdir gone"));
        var rmdir = m.Sh("rmdir gone", timeoutSeconds: 30);
        Assert.NotEqual(0, rmdir.Exit);
        CrashSupport.AssertDiedAtCrashPoint(m);
        // Dead between the rename and the delete: out of contexts/ whole, in the trash, never half there.
        Assert.False(Directory.Exists(m.StorePath("contexts", "gone")));
        string trash = Assert.Single(Directory.GetDirectories(m.StorePath("contexts"), ".vfsmount-trash-*"));
        Assert.True(File.Exists(Path.Combine(trash, "transcript", "active.jsonl")), "the trash holds the context whole");

        Recover(m);
        Assert.Empty(Directory.GetDirectories(m.StorePath("contexts"), ".vfsmount-trash-*"));
        Assert.DoesNotContain("gone", m.Ok("ls"), StringComparison.Ordinal);
        Assert.NotEqual(0, m.Sh("ls gone").Exit);
        m.Ok("mkdir gone");   // the name is free again, with its own anchor
        Assert.Equal(["Context created"], CrashSupport.TranscriptContents(m, "gone"));
        AssertStillAppendsThenConsistent(m, ["Context created", .. Before]);
    }
}

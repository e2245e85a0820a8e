using System.Text;
using System.Text.Json;
using VfsMount.Tests.Mount;
using VfsMount.Tests.Store;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §3 "a full disk: ENOSPC; nothing half-written": a store on an 8 MiB tmpfs, filled
/// through the mount by transcript appends and by documents. Every failing call answers
/// ENOSPC, nothing partial is left (lines whole, documents whole, no temp files, `check`
/// clean), the daemon keeps serving, and once space is freed through the mount, appends and
/// commits work again. (ErrorRowTests has the staging-vs-commit split of one document.)
/// </summary>
[Collection("Mount")]
public sealed class FullDiskTests
{
    private const int ENOSPC = 28;

    [Fact]
    public void TranscriptAppends_UntilDiskFull_FailEnospcAtWriteNoTornLine()
    {
        using var disk = new SmallDisk();
        var m = disk.M;
        m.Ok("mkdir demo && head -c 1048576 /dev/zero > demo/ballast");

        // Rotation (every ~300 KB of content by chibi's token default) runs as the disk fills,
        // so bloom files and manifests meet ENOSPC too.
        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('demo/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            n, err = 0, None
            pad = 'x' * 4000
            try:
                while n < 100000:
                    os.write(fd, ('{"content":"%d %s"}\n' % (n, pad)).encode())
                    n += 1
            except OSError as e:
                err = e.errno
            os.close(fd)
            print(json.dumps({'n': n, 'err': err}))
            """, timeoutSeconds: 240);
        Assert.True(exit == 0, stderr + m.Log);
        using var result = JsonDocument.Parse(stdout);
        int appended = result.RootElement.GetProperty("n").GetInt32();
        Assert.Equal(ENOSPC, result.RootElement.GetProperty("err").GetInt32());
        Assert.InRange(appended, 100, 2000);
        HostileInputTests.Logged(m, () => LogView.Refusals(m, "demo/transcript.jsonl").Any(l => l.Contains("(ENOSPC)", StringComparison.Ordinal)));
        AssertServing(m);

        // Every accepted line is there, whole and in order; the refused one is not.
        var contents = AssertWholeTranscript(m, "demo");
        Assert.Equal(["Context created", .. Enumerable.Range(0, appended).Select(i => $"{i} {new string('x', 4000)}")], contents);

        // Space again (removed through the mount): appends and commits work.
        m.Ok("rm demo/ballast");
        m.Ok("echo '{\"content\":\"after\"}' >> demo/transcript.jsonl && echo '# after' > demo/summary.md");
        Assert.Equal("after", AssertWholeTranscript(m, "demo")[^1]);
        Assert.Equal("# after\n", m.Ok("cat demo/summary.md"));

        AssertCleanAfterStop(m);
    }

    [Fact]
    public void DocumentsAndLogs_OnFullDisk_FailEnospcPreviousContentWhole()
    {
        using var disk = new SmallDisk();
        var m = disk.M;
        m.Ok("mkdir demo && echo kept > demo/summary.md && printf '{\"kept\":true}' > demo/context_meta.json");
        m.Ok("echo '{\"content\":\"before\"}' >> demo/transcript.jsonl && echo '{\"content\":\"in\"}' >> demo/inbox.jsonl && echo md >> demo/transcript.md");
        string inboxBefore = m.Ok("cat demo/inbox.jsonl"), mdBefore = m.Ok("cat demo/transcript.md");

        // Fill the disk with a scratch file, then give back 1 MiB.
        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('demo/filler', os.O_WRONLY | os.O_CREAT)
            chunk = b'f' * (1 << 16)
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as e:
                print(e.errno)
            size = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, size - (1 << 20)))
            os.close(fd)
            """, timeoutSeconds: 120);
        Assert.True(exit == 0, stderr + m.Log);
        Assert.Equal($"{ENOSPC}", stdout.Trim());

        // A text document bigger than the free space: refused while staging (write) or at close.
        (exit, stdout, stderr) = m.Python("""
            def attempt(path, data):
                try:
                    with open(path, 'wb') as f:
                        for i in range(0, len(data), 1 << 16):
                            f.write(data[i:i + (1 << 16)])
                    return 0
                except OSError as e:
                    return e.errno
            out = [attempt('demo/summary.md', b'y' * (2 << 20)),
                   attempt('demo/context_meta.json', b'{"big":"' + b'z' * (2 << 20) + b'"}')]
            print(json.dumps(out))
            """, timeoutSeconds: 120);
        Assert.True(exit == 0, stderr + m.Log);
        Assert.Equal($"[{ENOSPC}, {ENOSPC}]", stdout.Trim());
        Assert.Equal("kept\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("{\"kept\":true}", m.Ok("cat demo/context_meta.json"));
        Assert.Equal("kept\n", File.ReadAllText(m.StorePath("contexts", "demo", "summary.md")));
        Assert.Equal("{\"kept\":true}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
        HostileInputTests.Logged(m, () => LogView.Refusals(m, "demo/context_meta.json").Any(l => l.Contains("(ENOSPC)", StringComparison.Ordinal)));
        Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
        AssertServing(m);

        // Take the rest of the space, then each log refuses a line bigger than what is left.
        m.Python("""
            fd = os.open('demo/filler2', os.O_WRONLY | os.O_CREAT)
            try:
                while True:
                    os.write(fd, b'g' * 4096)
            except OSError:
                pass
            os.close(fd)
            """);
        (exit, stdout, stderr) = m.Python("""
            big = 'w' * (256 << 10)
            out = []
            for path, line in (('demo/transcript.jsonl', '{"content":"%s"}\n' % big), ('demo/inbox.jsonl', '{"content":"%s"}\n' % big), ('demo/transcript.md', big + '\n')):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, line.encode()); out.append(0)
                except OSError as e:
                    out.append(e.errno)
                os.close(fd)
            print(json.dumps(out))
            """);
        Assert.True(exit == 0, stderr + m.Log);
        Assert.Equal($"[{ENOSPC}, {ENOSPC}, {ENOSPC}]", stdout.Trim());
        Assert.Equal(["Context created", "before"], AssertWholeTranscript(m, "demo"));
        Assert.Equal(inboxBefore, m.Ok("cat demo/inbox.jsonl"));
        Assert.Equal(mdBefore, m.Ok("cat demo/transcript.md"));
        Assert.EndsWith("\n", File.ReadAllText(m.StorePath("contexts", "demo", "inbox.jsonl")), StringComparison.Ordinal);
        AssertServing(m);

        // Space again: the same writes succeed.
        m.Ok("rm demo/filler demo/filler2");
        m.Ok("echo '# fits' > demo/summary.md && printf '{\"fits\":1}' > demo/context_meta.json");
        m.Ok("echo '{\"content\":\"after\"}' >> demo/transcript.jsonl && echo '{\"content\":\"in2\"}' >> demo/inbox.jsonl && echo md2 >> demo/transcript.md");
        Assert.Equal("# fits\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("{\"fits\":1}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
        Assert.Equal(["Context created", "before", "after"], AssertWholeTranscript(m, "demo"));
        Assert.Equal(["in", "in2"], LogView.Contents(LogView.CatLines(m, "demo/inbox.jsonl")));
        Assert.Equal("md\nmd2\n", m.Ok("cat demo/transcript.md"));

        AssertCleanAfterStop(m);
    }

    /// <summary>The daemon is alive and answers.</summary>
    private static void AssertServing(MountedStore m)
    {
        Assert.False(m.Daemon.HasExited, "the daemon exited:\n" + m.Log);
        Assert.Contains("transcript.jsonl", m.Ok("ls demo"));
        Assert.Contains("demo", m.Ok("ls"));
    }

    /// <summary>Every line of the transcript parses, through the mount and in the store alike; returns the contents.</summary>
    private static List<string> AssertWholeTranscript(MountedStore m, string context)
    {
        string viaMount = m.Ok($"cat {context}/transcript.jsonl", 120);
        Assert.Equal(viaMount, Encoding.UTF8.GetString(LogView.StoreTranscript(m, context)));
        Assert.EndsWith("\n", viaMount, StringComparison.Ordinal);
        string dir = m.StorePath("contexts", context, "transcript");
        foreach (var file in Directory.EnumerateFiles(dir, "*.jsonl", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.True(bytes.Length == 0 || bytes[^1] == (byte)'\n', $"{file} ends with a torn line");
        }
        return LogView.Contents(viaMount.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>After a clean stop: no temp file of the mount or chibi anywhere, and `vfsmount check` finds nothing.</summary>
    private static void AssertCleanAfterStop(MountedStore m)
    {
        Assert.Equal(0, m.Terminate());
        var strays = Directory.EnumerateFileSystemEntries(m.Store, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p).StartsWith(".vfsmount-tmp-", StringComparison.Ordinal)
                || System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(p), @"\.tmp\.\d+$"))
            .ToArray();
        Assert.Empty(strays);
        var check = VfsMount.Tests.Store.Cli.Check(m.Store);
        Assert.True(check.ExitCode == 0, $"check exited {check.ExitCode}: {check.Stdout}{check.Stderr}\ndaemon log:\n{m.Log}");
    }

    /// <summary>A mount whose store is a small tmpfs (needs root); unmounts the tmpfs whatever happens.</summary>
    private sealed class SmallDisk : IDisposable
    {
        private string? _tmpfs;

        public SmallDisk(string size = "8m")
        {
            try
            {
                M = MountedStore.Start(prepareStore: store =>
                {
                    var r = Shell.Run("mount", ["-t", "tmpfs", "-o", $"size={size}", "tmpfs", store], "/", 20);
                    Assert.True(r.Exit == 0, $"cannot mount a tmpfs for the store (needs root): {r.Err}");
                    _tmpfs = store;
                });
            }
            catch
            {
                Unmount();
                throw;
            }
        }

        public MountedStore M { get; } = null!;

        public void Dispose()
        {
            try
            {
                M.Dispose();
            }
            finally
            {
                Unmount();
            }
        }

        private void Unmount()
        {
            if (_tmpfs is null) return;
            if (Shell.Run("umount", [_tmpfs], "/", 20).Exit != 0) Shell.Run("umount", ["-l", _tmpfs], "/", 20);
            try
            {
                Directory.Delete(Path.GetDirectoryName(_tmpfs)!, recursive: true);
            }
            catch (IOException)
            {
                // still busy after a lazy unmount: leave the temp directory
            }
            _tmpfs = null;
        }
    }
}

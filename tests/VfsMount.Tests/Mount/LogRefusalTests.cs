using System.Text;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 and §3: logs only grow. Overwrites, truncation, removal and renames are EPERM;
/// a line over the entry limit is EFBIG. After each refusal the log reads exactly as before.
/// </summary>
[Collection("Mount")]
public sealed class LogRefusalTests
{
    private static readonly string[] Logs = ["c/transcript.jsonl", "c/inbox.jsonl", "c/transcript.md"];

    private static MountedStore StartWithLogs()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir c && echo '{\"content\":\"t\"}' >> c/transcript.jsonl && echo '{\"content\":\"i\"}' >> c/inbox.jsonl && echo 'md' >> c/transcript.md");
        return m;
    }

    private static Dictionary<string, string> Snapshot(MountedStore m) => Logs.ToDictionary(l => l, l => m.Ok($"cat {l}"));

    private static void AssertRefused(MountedStore m, string script, string message)
    {
        var (exit, _, stderr) = m.Sh(script);
        Assert.True(exit != 0, $"`{script}` succeeded");
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void TruncatingRedirect_OnEachLog_FailsEpermAndKeepsContent()
    {
        using var m = StartWithLogs();
        var before = Snapshot(m);
        Assert.All(before.Values, v => Assert.NotEqual("", v));

        foreach (var log in Logs) AssertRefused(m, $"echo '{{}}' > {log}", "Operation not permitted");

        Assert.Equal(before, Snapshot(m));
    }

    [Fact]
    public void TruncateCommand_OnEachLog_FailsEpermAndKeepsContent()
    {
        using var m = StartWithLogs();
        var before = Snapshot(m);

        foreach (var log in Logs)
        {
            AssertRefused(m, $"truncate -s 0 {log}", "Operation not permitted");
            AssertRefused(m, $"truncate -s +10 {log}", "Operation not permitted");
        }

        Assert.Equal(before, Snapshot(m));
    }

    [Fact]
    public void Rm_OnEachLog_FailsEpermAndTheLogStaysListed()
    {
        using var m = StartWithLogs();
        var before = Snapshot(m);

        foreach (var log in Logs) AssertRefused(m, $"rm -f {log}", "Operation not permitted");

        Assert.Equal(before, Snapshot(m));
        var listing = m.Ok("ls c").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("transcript.jsonl", listing);
        Assert.Contains("inbox.jsonl", listing);
        Assert.Contains("transcript.md", listing);
    }

    [Fact]
    public void Mv_AwayFromOrOverALog_FailsEperm()
    {
        using var m = StartWithLogs();
        m.Ok("echo '{\"content\":\"scratch\"}' > c/new.jsonl");
        var before = Snapshot(m);

        foreach (var log in Logs)
        {
            AssertRefused(m, $"mv {log} c/moved", "Operation not permitted");
            AssertRefused(m, $"mv c/new.jsonl {log}", "Operation not permitted");
        }
        AssertRefused(m, "mv c/transcript.md c/transcript.jsonl", "Operation not permitted");

        Assert.Equal(before, Snapshot(m));
        Assert.Equal("{\"content\":\"scratch\"}\n", m.Ok("cat c/new.jsonl"));
        Assert.False(File.Exists(m.StorePath("contexts", "c", "moved")));
    }

    [Fact]
    public void Pwrite_NonAppendFd_InTheMiddleFailsEpermAtTheEndAppends()
    {
        using var m = StartWithLogs();
        string before = m.Ok("cat c/transcript.jsonl");

        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('c/transcript.jsonl', os.O_WRONLY)
            def attempt(what, f):
                try:
                    f()
                    print(what, 'ok')
                except OSError as e:
                    print(what, 'errno', e.errno)
            end = os.fstat(fd).st_size
            attempt('middle', lambda: os.pwrite(fd, b'{"content":"mid"}\n', 5))
            attempt('start', lambda: os.write(fd, b'{"content":"start"}\n'))
            attempt('past-end', lambda: os.pwrite(fd, b'{"content":"past"}\n', end + 100))
            attempt('end', lambda: os.pwrite(fd, b'{"content":"at end"}\n', end))
            os.lseek(fd, 0, os.SEEK_END)
            attempt('seek-end', lambda: os.write(fd, b'{"content":"after seek"}\n'))
            os.close(fd)
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal(["middle errno 1", "start errno 1", "past-end errno 1", "end ok", "seek-end ok"],
            stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string after = m.Ok("cat c/transcript.jsonl");
        Assert.StartsWith(before, after);
        Assert.Equal(["at end", "after seek"], LogView.Contents(after[before.Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void Write_LineOver16MiB_FailsEfbigAndAppendsNothing()
    {
        using var m = StartWithLogs();
        string before = m.Ok("cat c/transcript.jsonl");

        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            data = b'{"content":"' + b'x' * (17 << 20) + b'"}'
            first = None
            view = memoryview(data)
            try:
                while len(view):
                    view = view[os.write(fd, view):]
                os.write(fd, b'\n')
            except OSError as e:
                first = e.errno
            print('write', first)
            try:
                os.close(fd)
                print('close ok')
            except OSError as e:
                print('close errno', e.errno)
            """, timeoutSeconds: 120);

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("write 27", lines[0]);
        // The handle still holds the refused line's first 16 MiB, which is no JSON object on its own.
        Assert.Equal("close errno 22", lines[1]);
        Assert.Equal(before, m.Ok("cat c/transcript.jsonl"));
        Assert.Equal(before, Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c")));
        Assert.Contains(LogView.Refusals(m, "c/transcript.jsonl"), l => l.Contains("EFBIG", StringComparison.Ordinal));
        // A later line through a new handle is unaffected.
        m.Ok("echo '{\"content\":\"after\"}' >> c/transcript.jsonl");
        Assert.Equal("after", LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl"))[^1]);
    }
}

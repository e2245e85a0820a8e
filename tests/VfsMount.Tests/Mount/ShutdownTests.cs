using System.Text;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 "Durability" and §4: SIGTERM unmounts cleanly even while a log is open; every
/// line whose write(2) returned is in the store, and a remount shows it.
/// </summary>
[Collection("Mount")]
public sealed class ShutdownTests
{
    [Fact]
    public void Sigterm_WhileTranscriptOpenForWriting_ExitsZeroAndKeepsAcknowledgedLines()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        using var writer = Background.Python(m, """
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            for i in range(10):
                os.write(fd, json.dumps({'content': 'acked-%d' % i}).encode() + b'\n')
            os.write(fd, b'{"content": "unfinished')
            print('ready')
            time.sleep(120)
            """);
        Assert.True(LogView.WaitFor(() => writer.Out.Contains("ready", StringComparison.Ordinal) || writer.Process.HasExited, TimeSpan.FromSeconds(20)),
            "the writer did not get ready");
        Assert.True(writer.Out.Contains("ready", StringComparison.Ordinal), writer.Err);
        var expected = new List<string> { "Context created" };
        expected.AddRange(Enumerable.Range(0, 10).Select(i => $"acked-{i}"));
        Assert.Equal(expected, LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl")));

        Assert.Equal(0, m.Terminate(TimeSpan.FromSeconds(20)));
        Assert.False(m.IsMounted());

        // Straight from the store: every acknowledged line, no torn fragment.
        string stored = Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c"));
        Assert.EndsWith("\n", stored);
        var storedContents = LogView.Contents(stored.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(expected, storedContents.Where(c => c != "unfinished"));

        m.Mount();
        Assert.Equal(stored, m.Ok("cat c/transcript.jsonl"));
    }

    /// <summary>
    /// A SIGTERM that lands while the mount is being made — before the kernel mount, or between
    /// it and the check that it answers (test-only VFSMOUNT_SIGNAL_AT puts it there and waits
    /// until it has done its work) — is a clean stop: exit 0, nothing left mounted; not death by
    /// the signal (143) nor "the mount does not answer".
    /// </summary>
    [Theory]
    [InlineData("mount-start")]
    [InlineData("mount-before-ready")]
    public void Sigterm_BeforeTheMountIsReady_UnmountsAndExitsZero(string point)
    {
        using var d = new Daemonized();
        var (exit, _, err) = Daemonized.RunToEnd("dotnet", [MountedStore.VfsmountDll, "mount", d.Mnt, "--store", d.Store],
            env: new Dictionary<string, string> { ["VFSMOUNT_SIGNAL_AT"] = point }, timeoutSeconds: 60);

        Assert.True(exit == 0, $"exit {exit}: {err}");
        Assert.DoesNotContain("does not answer", err, StringComparison.Ordinal);
        Assert.Contains($"vfsmount: unmounted {d.Mnt}", err, StringComparison.Ordinal);
        Assert.False(d.IsMounted());
    }
}

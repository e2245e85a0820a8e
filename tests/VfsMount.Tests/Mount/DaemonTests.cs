using System.Net.Sockets;
using System.Text;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §4: --daemon returns 0 only once the mount is ready, with the daemon detached (own
/// session, stdio closed to the caller); a failing mount returns non-zero with the foreground's
/// one line; the log goes to --log-file, or to syslog without one; the mount(8) form
/// daemonizes and maps -o; under systemd the daemon says READY=1.
/// </summary>
[Collection("Mount")]
public sealed class DaemonTests
{
    [Fact]
    public void Daemon_ReturnsZeroOnlyOnceMountedAndAnswering_DetachedInItsOwnSession()
    {
        using var d = new Daemonized();
        var (exit, stdout, err) = d.MountDaemon();

        Assert.True(exit == 0, err);
        Assert.Equal("", stdout);
        Assert.Equal("", err);   // nothing to say when it worked, as mount(8)
        // No wait here: the mount is there and answers the moment the command returned.
        Assert.True(d.IsMounted());
        Assert.Equal(0, d.Sh("mkdir c && echo '{\"content\":\"x\"}' >> c/transcript.jsonl").Exit);
        int pid = d.DaemonPid();
        var stat = Daemonized.Stat(pid);
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), stat[3]);   // session leader: no terminal, no SIGHUP
        Assert.All(new[] { 0, 1 }, fd => Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget));
        Assert.Equal(d.LogFile, new FileInfo($"/proc/{pid}/fd/2").LinkTarget);
        Assert.Equal("/", new FileInfo($"/proc/{pid}/cwd").LinkTarget);   // started in the temp directory: keeps none busy
        Assert.Contains($"vfsmount: mounted {d.Store} on {d.Mnt} (pid {pid})", d.Log, StringComparison.Ordinal);

        Assert.Equal(0, Shell.Run("umount", [d.Mnt], "/", 20).Exit);
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(20), () => !Daemonized.IsAlive(pid)), "the daemon did not exit after umount");
        Assert.Contains($"vfsmount: unmounted {d.Mnt}", d.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Daemon_MountFails_ExitsNonZeroWithTheForegroundsOneLine()
    {
        using var d = new Daemonized();
        string missing = Path.Combine(d.Root, "no-such-dir");
        var (exit, _, err) = Daemonized.RunToEnd("dotnet", [MountedStore.VfsmountDll, "mount", missing, "--store", d.Store, "--daemon"]);
        var (fgExit, _, fgErr) = Daemonized.RunToEnd("dotnet", [MountedStore.VfsmountDll, "mount", missing, "--store", d.Store]);

        Assert.Equal(1, exit);
        Assert.Equal(fgExit, exit);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(fgErr.Trim(), line);
        Assert.Contains($"mkdir -p {missing}", line, StringComparison.Ordinal);

        (exit, _, err) = d.MountDaemon("-o", "partition_max_entries=many");
        Assert.Equal(1, exit);
        Assert.Contains("partition_max_entries needs a positive number", Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.False(d.IsMounted());
    }

    [Fact]
    public void Daemon_LogFile_HoldsEachRefusalWithItsTime()
    {
        using var d = new Daemonized();
        Assert.Equal(0, d.MountDaemon().Exit);
        d.DaemonPid();
        Assert.Equal(0, d.Sh("mkdir c").Exit);
        Assert.NotEqual(0, d.Sh("echo 'not json' >> c/transcript.jsonl").Exit);

        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(10), () => d.Log.Contains("refused c/transcript.jsonl", StringComparison.Ordinal)), d.Log);
        var line = d.Log.Split('\n').Single(l => l.Contains("refused c/transcript.jsonl", StringComparison.Ordinal));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z vfsmount: refused c/transcript.jsonl: not JSON: .* \(EINVAL\); kept in ", line);
    }

    [Fact]
    public void Daemon_WithoutLogFile_RefusalsGoToSyslog()
    {
        using var d = new Daemonized();
        string socketPath = Path.Combine(d.Root, "log.sock");
        using var syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 15_000 };
        syslog.Bind(new UnixDomainSocketEndPoint(socketPath));

        var (exit, _, err) = Daemonized.RunToEnd("dotnet", [MountedStore.VfsmountDll, "mount", d.Mnt, "--store", d.Store, "--daemon"],
            env: new Dictionary<string, string> { ["VFSMOUNT_SYSLOG_SOCKET"] = socketPath });
        Assert.True(exit == 0, err);
        int pid = d.DaemonPid();
        Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/2").LinkTarget);
        Assert.NotEqual(0, d.Sh("mkdir c && echo 'not json' >> c/transcript.jsonl").Exit);

        var buffer = new byte[8192];
        string message;
        do message = Encoding.UTF8.GetString(buffer, 0, syslog.Receive(buffer));   // a SocketException after 15 s fails the test
        while (!message.Contains("refused", StringComparison.Ordinal));
        Assert.StartsWith($"<28>vfsmount[{pid}]: refused c/transcript.jsonl: not JSON", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MountHelperForm_StoreMountPointDashO_Daemonizes_MapsOptions_IgnoresMountsOwn()
    {
        using var d = new Daemonized();
        var (exit, _, err) = Daemonized.RunToEnd("dotnet", [MountedStore.VfsmountDll, d.Store, d.Mnt, "-o",
            $"rw,noauto,user,_netdev,nofail,allow_other,partition_max_entries=2,log_file={d.LogFile}"]);

        Assert.True(exit == 0, err);
        Assert.True(d.IsMounted());
        // The store is the mount's source, as in the fstab line: mount -a sees it is mounted.
        Assert.Contains(File.ReadLines("/proc/self/mountinfo"), l => l.Contains($" {d.Mnt} ", StringComparison.Ordinal)
            && l.Contains($" - fuse.vfsmount {d.Store} ", StringComparison.Ordinal) && l.Contains("allow_other", StringComparison.Ordinal));
        Assert.Equal(0, d.Sh("mkdir c && for i in 1 2 3; do echo '{\"content\":\"x\"}' >> c/transcript.jsonl; done").Exit);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(d.Store, "contexts", "c", "transcript", "partitions"), "*.jsonl"));
        Assert.Contains($"vfsmount: mounted {d.Store} on {d.Mnt} (pid {d.DaemonPid()})", d.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Foreground_UnderSystemdTypeNotify_SaysReadyOnceMounted()
    {
        string dir = Directory.CreateTempSubdirectory("vfsmount-notify-").FullName;
        try
        {
            string socketPath = Path.Combine(dir, "notify.sock");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));
            using var m = MountedStore.Start(env: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath });

            var buffer = new byte[512];
            Assert.Equal("READY=1", Encoding.UTF8.GetString(buffer, 0, notify.Receive(buffer)));
            Assert.True(m.IsMounted());
            Assert.Equal(0, m.Terminate());
            Assert.Equal("STOPPING=1", Encoding.UTF8.GetString(buffer, 0, notify.Receive(buffer)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

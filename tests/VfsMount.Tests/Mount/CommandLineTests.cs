namespace VfsMount.Tests.Mount;

/// <summary>SPEC §4: `vfsmount mount` options, `unmount`, and a failed mount's one line saying why and what to do.</summary>
[Collection("Mount")]
public sealed class CommandLineTests
{
    private static (int Exit, string Out, string Err) Vfsmount(params string[] args) =>
        Shell.Run("dotnet", [MountedStore.VfsmountDll, .. args], "/", 60);

    [Fact]
    public void Mount_MissingMountPoint_ExitsOneWithOneLineSayingWhatToDo()
    {
        var dir = Directory.CreateTempSubdirectory("vfsmount-cli-");
        try
        {
            string missing = Path.Combine(dir.FullName, "no-such-dir");
            var (exit, _, err) = Vfsmount("mount", missing, "--store", Path.Combine(dir.FullName, "store"));

            Assert.Equal(1, exit);
            var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("does not exist", line, StringComparison.Ordinal);
            Assert.Contains($"mkdir -p {missing}", line, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Mount_StoreNotWritable_ExitsOneWithOneLine()
    {
        var dir = Directory.CreateTempSubdirectory("vfsmount-cli-");
        try
        {
            Directory.CreateDirectory(Path.Combine(dir.FullName, "mnt"));
            string file = Path.Combine(dir.FullName, "a-file");
            File.WriteAllText(file, "");
            var (exit, _, err) = Vfsmount("mount", Path.Combine(dir.FullName, "mnt"), "--store", Path.Combine(file, "store"));

            Assert.Equal(1, exit);
            var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("not writable", line, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Mount_MountPointBusy_ExitsOneAndLeavesTheFirstMountServing()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        var (exit, _, err) = Vfsmount("mount", m.Mnt, "--store", m.Store);

        Assert.Equal(1, exit);
        Assert.Contains("already mounted", Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Contains("c", ViewProbe.Ls(m, "."));
    }

    [Fact]
    public void MountReadOnly_WritesFailErofs_ReadsWork()
    {
        using var m = MountedStore.Start("-o ro", prepareStore: store =>
            Directory.CreateDirectory(Path.Combine(store, "contexts", "c", "transcript")));

        var (exit, _, err) = m.Sh("echo '{\"content\":\"x\"}' >> c/transcript.jsonl");
        Assert.NotEqual(0, exit);
        Assert.Contains("Read-only file system", err, StringComparison.Ordinal);
        Assert.Equal("", m.Ok("cat c/transcript.jsonl"));
        Assert.False(File.Exists(m.StorePath("contexts", "c", "transcript", "active.jsonl")));
    }

    [Fact]
    public void MountAllowOther_IsAFuseOptionOfTheMount()
    {
        using var m = MountedStore.Start("-o allow_other");

        Assert.Contains(File.ReadLines("/proc/self/mountinfo"), l => l.Contains($" {m.Mnt} ", StringComparison.Ordinal) && l.Contains("allow_other", StringComparison.Ordinal));
    }

    [Fact]
    public void Unmount_ThenTheDaemonExitsZero()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c && echo '{\"content\":\"kept\"}' >> c/transcript.jsonl");

        var (exit, _, err) = Vfsmount("unmount", m.Mnt);

        Assert.True(exit == 0, err);
        Assert.True(m.Daemon.WaitForExit(20_000), "the daemon did not exit after unmount");
        Assert.Equal(0, m.Daemon.ExitCode);
        Assert.False(m.IsMounted());
        Assert.Contains("\"kept\"", File.ReadAllText(m.StorePath("contexts", "c", "transcript", "active.jsonl")), StringComparison.Ordinal);
    }
}

namespace VfsMount.Tests.Mount;

/// <summary>`./vfsmount install --prefix DIR` once for the class, into a temp prefix; removed after.</summary>
public sealed class InstalledPrefix : IDisposable
{
    public InstalledPrefix()
    {
        Checkout = FindCheckout();
        Prefix = Directory.CreateTempSubdirectory("vfsmount-prefix-").FullName;
        Install = Shell.Run(Path.Combine(Checkout, "vfsmount"), ["install", "--prefix", Prefix], "/", 600);
    }

    public string Checkout { get; }
    public string Prefix { get; }
    public (int Exit, string Out, string Err) Install { get; }
    public string Program => Path.Combine(Prefix, "bin", "vfsmount");
    public string Unit => Path.Combine(Prefix, "lib", "systemd", "user", "vfsmount.service");

    /// <summary>The checkout the tests were built from: the directory with ./vfsmount and VfsMount.sln.</summary>
    public static string FindCheckout()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "vfsmount")) && File.Exists(Path.Combine(dir.FullName, "VfsMount.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no checkout above {AppContext.BaseDirectory}");
    }

    public void Dispose() => Directory.Delete(Prefix, recursive: true);
}

/// <summary>
/// SPEC §4 as a user meets it after `./vfsmount install`: the program runs from the prefix on
/// its own, `mount -t fuse.vfsmount` and `mount --fstab` run it through fuse3's mount.fuse3
/// from the standard PATH, `umount` unmounts, systemd accepts the unit, --uninstall removes it all.
/// </summary>
[Collection("Mount")]
public sealed class InstallTests(InstalledPrefix installed) : IClassFixture<InstalledPrefix>
{
    private void AssertInstalled() => Assert.True(installed.Install.Exit == 0, $"install failed: {installed.Install.Err}{installed.Install.Out}");

    [Fact]
    public void Install_IntoAPrefix_RunsFromThereOnItsOwn()
    {
        AssertInstalled();
        Assert.Equal("../lib/vfsmount/vfsmount", new FileInfo(installed.Program).LinkTarget);
        // Self-contained: no dotnet on the PATH, no file that names the checkout.
        var (exit, help, err) = Shell.Run("/usr/bin/env", ["-i", "PATH=/nonexistent", installed.Program, "--help"], "/", 60);
        Assert.True(exit == 0, err);
        Assert.Contains("vfsmount", help, StringComparison.Ordinal);
        var mentions = Directory.EnumerateFiles(installed.Prefix, "*", SearchOption.AllDirectories)
            .Where(f => new FileInfo(f).Length < 4 << 20 && File.ReadAllText(f).Contains(installed.Checkout, StringComparison.Ordinal));
        Assert.Empty(mentions);

        using var d = new Daemonized();
        (exit, _, err) = Daemonized.RunToEnd(installed.Program, ["mount", d.Mnt, "--store", d.Store, "--daemon", "--log-file", d.LogFile]);
        Assert.True(exit == 0, err);
        Assert.Equal(0, d.Sh("mkdir c && echo '{\"content\":\"from the prefix\"}' >> c/transcript.jsonl").Exit);
        Assert.Contains($"{installed.Prefix}/lib/vfsmount/vfsmount", File.ReadAllText($"/proc/{d.DaemonPid()}/cmdline").Replace('\0', ' '), StringComparison.Ordinal);
    }

    /// <summary>
    /// mount(8) runs mount.fuse3 with no PATH of its own, so /bin/sh's standard PATH finds
    /// `vfsmount` in /usr/local/bin: in a private mount namespace the temp prefix is bound over
    /// /usr/local (as a default install would be), and the whole round trip runs there.
    /// </summary>
    [Fact]
    public void MountDashT_AndMountFstab_RunTheInstalledProgram_AndUmountUnmounts()
    {
        AssertInstalled();
        using var d = new Daemonized();
        string fstab = Path.Combine(d.Root, "fstab");
        File.WriteAllText(fstab, $"{d.Store} {d.Mnt} fuse.vfsmount defaults,noauto,log_file={d.LogFile}.fstab 0 0\n");
        string script = $"""
            set -e
            mount --bind {installed.Prefix} /usr/local
            mount -t fuse.vfsmount {d.Store} {d.Mnt} -o noauto,_netdev,nofail,log_file={d.LogFile}
            grep -q " {d.Mnt} .* fuse.vfsmount " /proc/self/mountinfo && echo mounted-t
            mkdir {d.Mnt}/c && echo '{"{"}"content":"via mount -t"{"}"}' >> {d.Mnt}/c/transcript.jsonl
            vfsmount status {d.Mnt} --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print("appends", s["appends"]); print("pid", s["pid"])'
            umount {d.Mnt}
            grep -q " {d.Mnt} " /proc/self/mountinfo || echo unmounted-t
            mount --fstab {fstab} {d.Mnt}
            grep -q " {d.Mnt} .* fuse.vfsmount " /proc/self/mountinfo && echo mounted-fstab
            python3 -c 'import json; print("pid", json.load(open("{d.Mnt}/.vfsmount/status.json"))["pid"])'
            cat {d.Mnt}/c/transcript.jsonl | grep -c 'via mount -t'
            umount {d.Mnt}
            grep -q " {d.Mnt} " /proc/self/mountinfo || echo unmounted-fstab
            """;
        var (exit, stdout, err) = Shell.Run("unshare", ["-m", "--propagation", "private", "bash", "-c", script], "/", 120);

        Assert.True(exit == 0, $"{err}\n{stdout}\nlog:\n{d.Log}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["mounted-t", "appends 1"], lines[..2]);
        Assert.Equal(["unmounted-t", "mounted-fstab"], lines[3..5]);
        Assert.Equal(["1", "unmounted-fstab"], lines[6..]);
        foreach (var pid in lines.Where(l => l.StartsWith("pid ", StringComparison.Ordinal)).Select(l => int.Parse(l[4..], System.Globalization.CultureInfo.InvariantCulture)))
            Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(20), () => !Daemonized.IsAlive(pid)), $"daemon {pid} did not exit after umount");
        Assert.Contains("vfsmount: mounted", File.ReadAllText(d.LogFile + ".fstab"), StringComparison.Ordinal);
    }

    [Fact]
    public void SystemdUnit_SystemdAnalyzeVerifyAcceptsIt_AndWouldRefuseABrokenOne()
    {
        AssertInstalled();
        string runtime = Directory.CreateTempSubdirectory("vfsmount-xdg-").FullName;
        try
        {
            var env = new[] { "-i", $"XDG_RUNTIME_DIR={runtime}", "PATH=/usr/bin:/bin", "systemd-analyze", "--user", "verify" };
            Assert.Contains($"ExecStart={installed.Program} mount %h/chibi", File.ReadAllText(installed.Unit), StringComparison.Ordinal);
            var (exit, _, err) = Shell.Run("/usr/bin/env", [.. env, installed.Unit], "/", 60);
            Assert.True(exit == 0, $"systemd-analyze verify: {err}");

            // The same check on a unit whose program is missing fails: the verify above checked something.
            string broken = Path.Combine(runtime, "vfsmount.service");
            File.WriteAllText(broken, File.ReadAllText(installed.Unit).Replace(installed.Program, "/nonexistent/vfsmount", StringComparison.Ordinal));
            (exit, _, err) = Shell.Run("/usr/bin/env", [.. env, broken], "/", 60);
            Assert.NotEqual(0, exit);
            Assert.Contains("/nonexistent/vfsmount", err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(runtime, recursive: true);
        }
    }

    [Fact]
    public void Uninstall_RemovesWhatInstallPut_AndNothingElse()
    {
        AssertInstalled();
        string prefix = Directory.CreateTempSubdirectory("vfsmount-prefix-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(prefix, "bin"));
            File.WriteAllText(Path.Combine(prefix, "bin", "someone-else"), "");
            string script = Path.Combine(installed.Checkout, "vfsmount");
            var (exit, _, err) = Shell.Run(script, ["install", "--prefix", prefix], "/", 600);
            Assert.True(exit == 0, err);
            Assert.True(File.Exists(Path.Combine(prefix, "bin", "vfsmount")));

            (exit, _, err) = Shell.Run(script, ["install", "--prefix", prefix, "--uninstall"], "/", 60);
            Assert.True(exit == 0, err);
            Assert.Equal([Path.Combine(prefix, "bin"), Path.Combine(prefix, "bin", "someone-else")],
                Directory.GetFileSystemEntries(prefix, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));

            (exit, _, err) = Shell.Run(script, ["install", "--prefix", prefix, "--uninstall"], "/", 60);
            Assert.Equal(1, exit);
            Assert.Contains("nothing of vfsmount's is installed", err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(prefix, recursive: true);
        }
    }
}

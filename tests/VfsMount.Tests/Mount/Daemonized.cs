using System.Diagnostics;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// Temp store, mount point and log file for a mount that runs in the background (--daemon,
/// the mount(8) form, mount -t). The daemon is found by the pid its status.json gives;
/// Dispose unmounts, waits for that pid to end (SIGKILL to it alone if it hangs) and deletes
/// the temp directory.
/// </summary>
public sealed class Daemonized : IDisposable
{
    private readonly List<int> _pids = [];

    public Daemonized()
    {
        Root = Directory.CreateTempSubdirectory("vfsmount-daemon-").FullName;
        Store = Path.Combine(Root, "store");
        Mnt = Path.Combine(Root, "mnt");
        LogFile = Path.Combine(Root, "vfsmount.log");
        Directory.CreateDirectory(Store);
        Directory.CreateDirectory(Mnt);
    }

    public string Root { get; }
    public string Store { get; }
    public string Mnt { get; }
    public string LogFile { get; }
    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    public bool IsMounted() => File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == Mnt);

    /// <summary>
    /// Runs a program that must return with its stdout and stderr closed: a daemon that kept
    /// them open would hang whoever reads them (a shell's $(…), a test) — that fails here.
    /// </summary>
    public static (int Exit, string Out, string Err) RunToEnd(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutSeconds = 120, string cwd = "/")
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not return within {timeoutSeconds} s");
        }
        Assert.True(Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10)), $"{file} returned but its stdout/stderr stayed open (the daemon kept them)");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>`vfsmount mount mnt --store store --daemon --log-file vfsmount.log ARGS…` through the test build, run in the temp directory (relative paths).</summary>
    public (int Exit, string Out, string Err) MountDaemon(params string[] args) =>
        RunToEnd("dotnet", [MountedStore.VfsmountDll, "mount", "mnt", "--store", "store", "--daemon", "--log-file", "vfsmount.log", .. args], cwd: Root);

    /// <summary>The daemon serving the mount (from status.json); remembered for Dispose.</summary>
    public int DaemonPid()
    {
        using var status = JsonDocument.Parse(File.ReadAllText(Path.Combine(Mnt, ".vfsmount", "status.json")));
        int pid = status.RootElement.GetProperty("pid").GetInt32();
        if (!_pids.Contains(pid)) _pids.Add(pid);
        return pid;
    }

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [2] pgrp, [3] session.</summary>
    public static string[] Stat(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    public (int Exit, string Out, string Err) Sh(string script, int timeoutSeconds = 60) => Shell.Run("bash", ["-c", script], Mnt, timeoutSeconds);

    public void Dispose()
    {
        if (IsMounted())
        {
            try
            {
                DaemonPid();
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // not answering: unmount anyway
            }
            if (Shell.Run("fusermount3", ["-u", Mnt], "/", 20).Exit != 0) Shell.Run("fusermount3", ["-uz", Mnt], "/", 20);
        }
        foreach (int pid in _pids)
        {
            if (!ViewProbe.Within(TimeSpan.FromSeconds(20), () => !IsAlive(pid)))
                Shell.Run("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], "/", 10);
        }
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // still busy: leave it rather than fail here
        }
    }
}

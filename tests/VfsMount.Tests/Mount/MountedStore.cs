using System.Diagnostics;
using System.Text;

namespace VfsMount.Tests.Mount;

/// <summary>
/// The real `vfsmount mount` as a child process on a temp store and a unique temp mount point.
/// Start waits (with a timeout) until the kernel shows the mount; Dispose always unmounts
/// (SIGTERM, then fusermount3 -u, then -uz), ends only the process it started, and deletes
/// the temp directory — so a hung daemon fails one test instead of hanging the run.
/// </summary>
public sealed class MountedStore : IDisposable
{
    private static readonly TimeSpan MountTimeout = TimeSpan.FromSeconds(30);
    private readonly StringBuilder _log = new();
    private Process? _daemon;
    private readonly bool _ownsRoot = true;

    private MountedStore(string root)
    {
        Root = root;
        Store = Path.Combine(root, "store");
        Mnt = Path.Combine(root, "mnt");
        Directory.CreateDirectory(Store);
        Directory.CreateDirectory(Mnt);
    }

    private MountedStore(MountedStore first, string mnt)
    {
        Root = first.Root;
        Store = first.Store;
        Mnt = mnt;
        _ownsRoot = false;
        Directory.CreateDirectory(Mnt);
    }

    /// <summary>
    /// A second daemon on this store, at a mount point of its own: two machines on one shared
    /// store. It unmounts on dispose but leaves the temp directory to the first.
    /// </summary>
    public MountedStore SecondDaemon(string extraArgs = "")
    {
        var second = new MountedStore(this, Path.Combine(Root, "mnt2"));
        try
        {
            second.Mount(extraArgs);
            return second;
        }
        catch
        {
            second.Dispose();
            throw;
        }
    }

    public string Root { get; }
    public string Store { get; }
    public string Mnt { get; }
    public Process Daemon => _daemon!;

    /// <summary>Everything the daemon wrote to standard error so far.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public static string VfsmountDll => Path.Combine(AppContext.BaseDirectory, "vfsmount.dll");

    /// <summary>Mounts a fresh store (optionally prepared first) with extra command-line arguments.</summary>
    public static MountedStore Start(string extraArgs = "", Action<string>? prepareStore = null, IDictionary<string, string>? env = null)
    {
        var m = new MountedStore(Directory.CreateTempSubdirectory("vfsmount-test-").FullName);
        try
        {
            prepareStore?.Invoke(m.Store);
            m.Mount(extraArgs, env);
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>Starts the daemon on this store and mount point; waits for the mount.</summary>
    public void Mount(string extraArgs = "", IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(VfsmountDll);
        foreach (var a in $"mount {Mnt} --store {Store} {extraArgs}".Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var p = new Process { StartInfo = psi };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        p.Start();
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        _daemon = p;
        var deadline = DateTime.UtcNow + MountTimeout;
        while (!IsMounted())
        {
            if (p.HasExited) throw new InvalidOperationException($"vfsmount exited with {p.ExitCode} before mounting:\n{Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"vfsmount did not mount within {MountTimeout}:\n{Log}");
            Thread.Sleep(50);
        }
    }

    public bool IsMounted() => IsMountPoint(Mnt);

    private static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);

    /// <summary>Sends SIGTERM and waits for a clean exit; returns the exit code.</summary>
    public int Terminate(TimeSpan? timeout = null)
    {
        var p = _daemon!;
        if (!p.HasExited) Signal(p.Id, "TERM");
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(20))) throw new TimeoutException($"vfsmount did not exit after SIGTERM:\n{Log}");
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>kill -9 of the daemon, then a lazy unmount of what it leaves behind.</summary>
    public void Crash()
    {
        var p = _daemon!;
        if (!p.HasExited) Signal(p.Id, "KILL");
        p.WaitForExit(10_000);
        Unmount();
    }

    /// <summary>Runs bash in the mount point; returns exit code, stdout and stderr.</summary>
    public (int Exit, string Out, string Err) Sh(string script, int timeoutSeconds = 60) =>
        Shell.Run("bash", ["-c", script], Mnt, timeoutSeconds);

    /// <summary>Runs bash in the mount and fails the test (with the daemon's log) unless it exits 0.</summary>
    public string Ok(string script, int timeoutSeconds = 60)
    {
        var (exit, stdout, stderr) = Sh(script, timeoutSeconds);
        Assert.True(exit == 0, $"`{script}` exited {exit}: {stderr}\ndaemon log:\n{Log}");
        return stdout;
    }

    /// <summary>Runs a python3 program with MNT bound to the mount point.</summary>
    public (int Exit, string Out, string Err) Python(string program, int timeoutSeconds = 60) =>
        Shell.Run("python3", ["-c", $"import os, sys, json, errno\nMNT = {Quote(Mnt)}\n{program}"], Mnt, timeoutSeconds);

    public string StorePath(params string[] parts) => Path.Combine([Store, .. parts]);

    private static string Quote(string s) => "'" + s.Replace("'", "\\'", StringComparison.Ordinal) + "'";

    private static void Signal(int pid, string signal) => Shell.Run("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], "/", 10);

    private void Unmount()
    {
        if (!IsMounted()) return;
        if (Shell.Run("fusermount3", ["-u", Mnt], "/", 20).Exit != 0)
            Shell.Run("fusermount3", ["-uz", Mnt], "/", 20);
    }

    public void Dispose()
    {
        try
        {
            if (_daemon is { HasExited: false } p)
            {
                Signal(p.Id, "TERM");
                if (!p.WaitForExit(10_000))
                {
                    Unmount();
                    if (!p.WaitForExit(5_000)) p.Kill();
                }
            }
        }
        finally
        {
            Unmount();
            _daemon?.Dispose();
            if (_ownsRoot)   // a second daemon leaves the store and the temp directory to the first
            {
                // A test may have put the store on a small tmpfs (full-disk tests): it goes with the rest.
                if (IsMountPoint(Store)) Shell.Run("umount", ["-l", Store], "/", 20);
                try
                {
                    Directory.Delete(Root, recursive: true);
                }
                catch (IOException)
                {
                    // still busy: leave the temp directory rather than fail the test here
                }
            }
        }
    }
}

/// <summary>Runs a program with a timeout; a hung child is killed and the test fails, the run goes on.</summary>
public static class Shell
{
    public static (int Exit, string Out, string Err) Run(string file, IEnumerable<string> args, string cwd, int timeoutSeconds, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

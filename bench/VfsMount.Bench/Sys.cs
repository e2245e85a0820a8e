using System.Diagnostics;
using System.Text;

namespace VfsMount.Bench;

/// <summary>A child process that failed, with what it said.</summary>
internal sealed class BenchException(string message) : Exception(message);

/// <summary>Processes, page cache and mount table: the little the benchmark needs of the system.</summary>
internal static class Sys
{
    public sealed record Result(int Code, string Out, string Err, double Seconds);

    /// <summary>Runs a program to completion; stdout and stderr are captured.</summary>
    public static Result Run(string file, IEnumerable<string> args, int timeoutSeconds = 900)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new BenchException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new BenchException($"{file} {string.Join(' ', args)}: timed out after {timeoutSeconds} s");
        }
        p.WaitForExit();
        double seconds = sw.Elapsed.TotalSeconds;
        return new Result(p.ExitCode, stdout.Result, stderr.Result, seconds);
    }

    /// <summary>Runs a program that must succeed; returns its stdout.</summary>
    public static string Check(string file, params string[] args)
    {
        var r = Run(file, args);
        if (r.Code != 0) throw new BenchException($"{file} {string.Join(' ', args)} exited {r.Code}: {r.Err.Trim()}");
        return r.Out;
    }

    /// <summary>
    /// Times `sh -c script sh args…` (the script redirects its own output, usually to /dev/null),
    /// process start-up included; the same start-up is paid on every side.
    /// </summary>
    public static double TimeShell(string script, params string[] args)
    {
        var r = Run("/bin/sh", ["-c", script, "sh", .. args]);
        if (r.Code != 0) throw new BenchException($"sh -c '{script}' exited {r.Code}: {Trim(r.Err)}");
        return r.Seconds;
    }

    /// <summary>Writes dirty pages back, then empties the page, dentry and inode caches.</summary>
    public static void DropCaches()
    {
        Check("sync");
        File.WriteAllText("/proc/sys/vm/drop_caches", "3");
    }

    public static bool IsMounted(string path)
    {
        string escaped = path.Replace(" ", "\\040", StringComparison.Ordinal);
        return File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == escaped);
    }

    /// <summary>fusermount3 -u, retried while busy, then a lazy -uz as the last resort.</summary>
    public static void Unmount(string path)
    {
        for (int i = 0; i < 10 && IsMounted(path); i++)
        {
            if (Run("fusermount3", ["-u", path]).Code == 0) return;
            Thread.Sleep(200);
        }
        if (IsMounted(path)) Run("fusermount3", ["-uz", path]);
    }

    public static string Trim(string text, int max = 2000)
    {
        text = text.Trim();
        return text.Length <= max ? text : "…" + text[^max..];
    }

    public static long ReadStatusKb(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        throw new BenchException($"/proc/{pid}/status has no {field}");
    }
}

/// <summary>
/// A FUSE daemon this benchmark started in the foreground (vfsmount, bindfs or passthrough_ll): we own its pid,
/// wait for its mount to appear, and on dispose unmount it and wait for it to exit.
/// </summary>
internal sealed class FuseDaemon : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private FuseDaemon(string name, string mountPoint, Process process)
    {
        Name = name;
        MountPoint = mountPoint;
        _process = process;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public string Name { get; }
    public string MountPoint { get; }
    public int Pid => _process.Id;
    /// <summary>Seconds from starting the daemon to its mount showing in /proc/self/mountinfo.</summary>
    public double StartSeconds { get; private set; }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>`vfsmount mount MNT --store STORE`, run from the benchmark's snapshot of the Release build.</summary>
    public static FuseDaemon VfsMount(Env env, string store, string mountPoint, params string[] extra) =>
        Start("vfsmount", mountPoint, "dotnet", [env.VfsMountDll, "mount", mountPoint, "--store", store, .. extra]);

    /// <summary>`bindfs -f SRC DST`: bindfs's defaults (single-threaded, libfuse's 1 s attribute cache).</summary>
    public static FuseDaemon Bindfs(string source, string mountPoint) =>
        Start("bindfs", mountPoint, "bindfs", ["-f", source, mountPoint]);

    /// <summary>
    /// `passthrough_ll -f -o source=SRC DST`: libfuse's low-level example with its defaults
    /// (multi-threaded, cache=auto: 1 s entry/attribute timeouts, neither keep_cache nor direct_io, so
    /// the kernel drops a file's cached pages at each open).
    /// </summary>
    public static FuseDaemon PassthroughLl(Env env, string source, string mountPoint) =>
        Start("passthrough_ll", mountPoint, env.PassthroughLl, ["-f", "-o", $"source={source}", mountPoint]);

    private static FuseDaemon Start(string name, string mountPoint, string file, string[] args)
    {
        Directory.CreateDirectory(mountPoint);
        if (Sys.IsMounted(mountPoint)) throw new BenchException($"{mountPoint} is already mounted");
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        var daemon = new FuseDaemon(name, mountPoint, Process.Start(psi) ?? throw new BenchException($"cannot start {file}"));
        try
        {
            while (!Sys.IsMounted(mountPoint))
            {
                if (daemon._process.HasExited)
                    throw new BenchException($"{name} exited {daemon._process.ExitCode} before mounting {mountPoint}: {Sys.Trim(daemon.Log)}");
                if (sw.Elapsed > TimeSpan.FromSeconds(180))
                    throw new BenchException($"{name} did not mount {mountPoint} within 180 s: {Sys.Trim(daemon.Log)}");
                Thread.Sleep(10);
            }
            daemon.StartSeconds = sw.Elapsed.TotalSeconds;
            return daemon;
        }
        catch
        {
            daemon.Dispose();
            throw;
        }
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        try
        {
            Sys.Unmount(MountPoint);
            if (!_process.WaitForExit(20_000))
            {
                Console.Error.WriteLine($"bench: {Name} (pid {Pid}) still running 20 s after unmount; killing it");
                _process.Kill();   // our own child, by pid
                _process.WaitForExit(5_000);
            }
        }
        finally
        {
            _process.Dispose();
        }
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>What the log tests read back: lines and entries through the mount, raw files in the store.</summary>
internal static class LogView
{
    /// <summary>
    /// A python body that appends exactly as chibi does, straight into STORE (flock, O_APPEND|O_CREAT,
    /// the JSON then '\n' as two writes, fsync, unlock): PREFIX-0, PREFIX-1, … for at most maxLines
    /// lines or seconds, then prints how many it wrote.
    /// </summary>
    public static string ChibiWriter(string context, string prefix, int maxLines, int seconds = 3600) => $$"""
        import fcntl, uuid
        d = os.path.join(STORE, 'contexts', '{{context}}', 'transcript')
        lock = os.open(os.path.join(d, '.transcript.lock'), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.time() + {{seconds}}
        i = 0
        while i < {{maxLines}} and time.time() < deadline:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(os.path.join(d, 'active.jsonl'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            entry = {'id': str(uuid.uuid4()), 'timestamp': int(time.time()), 'from': '{{context}}', 'to': 'user',
                     'content': '{{prefix}}-%d' % i, 'entry_type': 'message'}
            os.write(fd, json.dumps(entry, separators=(',', ':')).encode())
            os.write(fd, b'\n')
            os.fsync(fd)
            os.close(fd)
            fcntl.flock(lock, fcntl.LOCK_UN)
            i += 1
        print(i)
        """;

    /// <summary>The lines of a log as `cat` prints them through the mount (no trailing empty line).</summary>
    public static string[] CatLines(MountedStore m, string path) =>
        m.Ok($"cat {path}").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The `content` of every entry of a JSONL text; every line must parse as a JSON object.</summary>
    public static List<string> Contents(IEnumerable<string> lines) =>
        lines.Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return doc.RootElement.TryGetProperty("content", out var c) ? c.GetString() ?? "" : "";
        }).ToList();

    public static byte[] StoreBytes(MountedStore m, params string[] parts) =>
        File.Exists(m.StorePath(parts)) ? File.ReadAllBytes(m.StorePath(parts)) : [];

    /// <summary>The bytes a reader of the whole transcript sees, read straight from the store (partitions in manifest order, then active).</summary>
    public static byte[] StoreTranscript(MountedStore m, string context)
    {
        string dir = m.StorePath("contexts", context, "transcript");
        var all = new List<byte>();
        string manifest = Path.Combine(dir, "manifest.json");
        if (File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            foreach (var p in doc.RootElement.GetProperty("partitions").EnumerateArray())
                all.AddRange(File.ReadAllBytes(Path.Combine(dir, p.GetProperty("file").GetString()!)));
        }
        string active = Path.Combine(dir, "active.jsonl");
        if (File.Exists(active)) all.AddRange(File.ReadAllBytes(active));
        return all.ToArray();
    }

    public static string[] QuarantineFiles(MountedStore m)
    {
        string dir = m.StorePath(".vfsmount", "quarantine");
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "*.bin").Order(StringComparer.Ordinal).ToArray() : [];
    }

    /// <summary>Daemon log lines that record a refusal of the given file.</summary>
    public static string[] Refusals(MountedStore m, string contextAndFile) =>
        m.Log.Split('\n').Where(l => l.Contains($"refused {contextAndFile}", StringComparison.Ordinal)).ToArray();

    public static string LoginName(MountedStore m) => m.Ok("id -un").Trim();

    /// <summary>Waits (bounded) until the condition holds; false on timeout.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(50);
        }
        return true;
    }
}

/// <summary>
/// A program started in the background (tail -f, a python holding a file open) whose output is
/// collected as it comes; Dispose kills it (only it) and waits.
/// </summary>
internal sealed class Background : IDisposable
{
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();

    public Background(string file, IEnumerable<string> args, string cwd)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process = new Process { StartInfo = psi };
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.Append(e.Data).Append('\n'); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.Append(e.Data).Append('\n'); };
        Process.Start();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    /// <summary>
    /// Waits for the process to end, then for its last output lines: WaitForExit with a timeout
    /// returns before the asynchronous readers have delivered them.
    /// </summary>
    public bool Exited(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout)) return false;
        Process.WaitForExit();
        return true;
    }

    public string Out
    {
        get { lock (_out) return _out.ToString(); }
    }

    public string Err
    {
        get { lock (_err) return _err.ToString(); }
    }

    public static Background Python(MountedStore m, string program) =>
        new("python3", ["-u", "-c", $"import os, sys, json, errno, time\nMNT = '{m.Mnt}'\nSTORE = '{m.Store}'\n{program}"], m.Mnt);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        Process.Dispose();
    }
}

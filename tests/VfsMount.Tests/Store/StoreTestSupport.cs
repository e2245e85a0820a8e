using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VfsMount.Store;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>A store in a unique temp directory, deleted on dispose.</summary>
internal sealed class TempStore : IDisposable
{
    public TempStore()
    {
        Root = Path.Combine(Path.GetTempPath(), "vfsmount-store-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public ChibiStore Open(StorageOptions? options = null) => new(Root, options);

    public string ContextDir(string name) => Path.Combine(Root, "contexts", name);

    public string TranscriptDir(string name) => Path.Combine(ContextDir(name), "transcript");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs the built CLI (vfsmount.dll, copied beside the test assembly) as a separate OS process.</summary>
internal static class Cli
{
    public static string DllPath
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "vfsmount.dll");
            Assert.True(File.Exists(path), $"vfsmount.dll not found beside the tests in {AppContext.BaseDirectory}");
            return path;
        }
    }

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static Process Start(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("VFSMOUNT_CRASH_AT");
        if (env is not null)
            foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    public static CliResult Run(IEnumerable<string> args, string? stdin = null, IDictionary<string, string>? env = null, int timeoutSeconds = 60)
    {
        using var p = Start(args, env);
        return Finish(p, stdin, timeoutSeconds);
    }

    public static CliResult Finish(Process p, string? stdin, int timeoutSeconds = 60)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"vfsmount did not finish within {timeoutSeconds} s");
        }
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static CliResult Check(string store, bool repair = false) =>
        Run(repair ? ["check", "--store", store, "--repair"] : ["check", "--store", store]);

    public static CliResult Append(string store, string context, IEnumerable<string> lines, string? crashAt = null, long? maxEntries = null)
    {
        var args = new List<string> { "append", "--store", store, context };
        if (maxEntries is { } m) args.AddRange(["--partition-max-entries", m.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var env = crashAt is null ? null : new Dictionary<string, string> { ["VFSMOUNT_CRASH_AT"] = crashAt };
        return Run(args, string.Concat(lines.Select(l => l + "\n")), env);
    }
}

/// <summary>Reads what is on disk the way the tests need it.</summary>
internal static class Disk
{
    /// <summary>The whole transcript through the store's reader.</summary>
    public static byte[] ReadAll(TranscriptLog log)
    {
        long length = log.Length;
        var buffer = new byte[length + 16];
        int n = log.Read(buffer, 0);
        Assert.Equal(length, n);
        return buffer[..n];
    }

    /// <summary>Partitions in manifest order, then active.jsonl: what chibi reads as the whole transcript.</summary>
    public static byte[] Concatenation(string transcriptDir)
    {
        var all = new MemoryStream();
        string manifestPath = Path.Combine(transcriptDir, "manifest.json");
        if (File.Exists(manifestPath))
        {
            var manifest = JsonNode.Parse(File.ReadAllBytes(manifestPath))!;
            foreach (var p in manifest["partitions"]!.AsArray())
            {
                string file = Path.Combine(transcriptDir, p!["file"]!.GetValue<string>());
                if (File.Exists(file)) all.Write(File.ReadAllBytes(file));
            }
        }
        string active = Path.Combine(transcriptDir, "active.jsonl");
        if (File.Exists(active)) all.Write(File.ReadAllBytes(active));
        return all.ToArray();
    }

    /// <summary>Every line (each must end with '\n') parsed as a JSON object.</summary>
    public static List<JsonObject> Entries(byte[] bytes)
    {
        var list = new List<JsonObject>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n') continue;
            list.Add(JsonNode.Parse(bytes.AsSpan(start, i - start))!.AsObject());
            start = i + 1;
        }
        Assert.True(start == bytes.Length, "the transcript ends with an unfinished line");
        return list;
    }

    public static List<string> Contents(byte[] bytes) =>
        Entries(bytes).Select(e => e["content"]!.GetValue<string>()).ToList();

    public static JsonObject Manifest(string transcriptDir) =>
        JsonNode.Parse(File.ReadAllBytes(Path.Combine(transcriptDir, "manifest.json")))!.AsObject();

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}

/// <summary>
/// A writer that behaves exactly like chibi's transcript append: flock(LOCK_EX) on
/// .transcript.lock, open active.jsonl O_APPEND|O_CREAT, write the JSON and the "\n" as two
/// write calls, fsync, unlock. Raw system calls only, none of the store's append code.
/// </summary>
internal static class ChibiWriter
{
    public static string Entry(string context, string content, ulong timestamp) =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["timestamp"] = timestamp,
            ["from"] = "chibi-user",
            ["to"] = context,
            ["content"] = content,
            ["entry_type"] = "message",
        });

    public static void Append(string transcriptDir, string json)
    {
        using var lockFile = PosixFile.OpenOrThrow(Path.Combine(transcriptDir, ".transcript.lock"), PosixFile.ReadWrite | PosixFile.Create, 0x1A4);
        Assert.Equal(0, lockFile.Lock(exclusive: true));
        using (var active = PosixFile.OpenOrThrow(Path.Combine(transcriptDir, "active.jsonl"), PosixFile.WriteOnly | PosixFile.Append | PosixFile.Create, 0x1A4))
        {
            Assert.Equal(0, active.WriteAll(Encoding.UTF8.GetBytes(json)));
            Assert.Equal(0, active.WriteAll("\n"u8));
            Assert.Equal(0, active.Sync());
        }
        Assert.Equal(0, lockFile.Unlock());
    }
}

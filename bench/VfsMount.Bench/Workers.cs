using System.Diagnostics;
using System.Text.Json;

namespace VfsMount.Bench;

/// <summary>What one or more workers (workers.py) reported.</summary>
internal sealed record WorkerResult(double Seconds, long Operations, long Bytes, List<long> LatenciesUs, JsonElement Raw)
{
    public double PerSecond => Operations / Seconds;
    public double Percentile(double p)
    {
        if (LatenciesUs.Count == 0) return double.NaN;
        var sorted = LatenciesUs.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
    }
}

/// <summary>Starts workers.py processes; several at once meet at a barrier so only the work is timed.</summary>
internal static class Workers
{
    /// <summary>One worker without a barrier (it times itself).</summary>
    public static WorkerResult RunOne(Env env, params string[] args) => RunMany(env, [args], barrier: false);

    /// <summary>
    /// Starts every worker, waits until all print "ready" (files open, lines prepared), releases
    /// them together, and reports operations over the span from the first start to the last end
    /// (CLOCK_MONOTONIC, shared by all processes).
    /// </summary>
    public static WorkerResult RunMany(Env env, IReadOnlyList<string[]> argLists, bool barrier = true)
    {
        var processes = new List<Process>();
        try
        {
            foreach (var args in argLists)
            {
                var psi = new ProcessStartInfo(env.Python)
                {
                    RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                };
                psi.ArgumentList.Add(env.WorkersPy);
                foreach (var a in args) psi.ArgumentList.Add(a);
                if (barrier) psi.ArgumentList.Add("--barrier");
                processes.Add(Process.Start(psi) ?? throw new BenchException("cannot start python3"));
            }
            var stderr = processes.Select(p => p.StandardError.ReadToEndAsync()).ToList();
            if (barrier)
            {
                for (int i = 0; i < processes.Count; i++)
                {
                    string? line = processes[i].StandardOutput.ReadLine();
                    if (line != "ready")
                        throw new BenchException($"worker {string.Join(' ', argLists[i])} did not get ready: {line} {Sys.Trim(stderr[i].Result)}");
                }
                foreach (var p in processes) p.StandardInput.WriteLine("go");
                foreach (var p in processes) p.StandardInput.Flush();
            }
            var outputs = processes.Select(p => p.StandardOutput.ReadToEndAsync()).ToList();
            var results = new List<JsonElement>();
            for (int i = 0; i < processes.Count; i++)
            {
                if (!processes[i].WaitForExit(1_800_000)) throw new BenchException("worker timed out after 30 min");
                string text = outputs[i].Result.Trim();
                JsonElement doc;
                try
                {
                    doc = JsonDocument.Parse(text).RootElement.Clone();
                }
                catch (JsonException)
                {
                    throw new BenchException($"worker {argLists[i][0]} said: {Sys.Trim(text)} {Sys.Trim(stderr[i].Result)}");
                }
                if (doc.TryGetProperty("error", out var error))
                    throw new BenchException($"worker {argLists[i][0]} --target {Arg(argLists[i], "--target")}: {error.GetString()}");
                results.Add(doc);
            }
            double t0 = results.Min(r => r.GetProperty("t0").GetDouble());
            double t1 = results.Max(r => r.GetProperty("t1").GetDouble());
            long n = results.Sum(r => r.TryGetProperty("n", out var v) ? v.GetInt64() : 0);
            long bytes = results.Sum(r => r.TryGetProperty("bytes", out var v) ? v.GetInt64() : r.TryGetProperty("written", out var w) ? w.GetInt64() : 0);
            var lat = results.SelectMany(r => r.TryGetProperty("lat_us", out var l) ? l.EnumerateArray().Select(x => x.GetInt64()) : []).ToList();
            return new WorkerResult(t1 - t0, n, bytes, lat, results[0]);
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill();   // our own children, by pid
                p.Dispose();
            }
        }
    }

    private static string Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : "?";
    }
}

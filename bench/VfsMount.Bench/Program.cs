using System.Globalization;
using System.Runtime.InteropServices;
using VfsMount.Bench;

// The VfsMount benchmark: every workload runs on the mount and, in the same run, on the native
// filesystem doing the same work with the same guarantees (and on bindfs, a C libfuse
// passthrough, where a FUSE baseline says more). Prints a Markdown table of medians.
Options options;
try
{
    options = Options.Parse(args);
}
catch (BenchException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}

Env created;
try
{
    created = Env.Create(options);   // snapshots the CLI, builds passthrough_ll
}
catch (BenchException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}
using var env = created;
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
var report = new Report { Machine = Machine.Describe(env) };
Console.Error.WriteLine($"bench: {report.Machine}");
Console.Error.WriteLine($"bench: {(options.Quick ? "quick" : "full")} run, {options.Rounds} rounds, work directory {env.Work}");
if (options.Rounds < 3) report.Notes.Add($"only {options.Rounds} round(s): medians of fewer than 3 rounds are not worth much");
var started = DateTime.UtcNow;
var bench = new Workloads(env, report);
foreach (var name in Options.Workloads.Where(options.Only.Contains))
{
    try
    {
        bench.Run(name);
    }
    catch (Exception e) when (e is BenchException or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"bench: {name} failed: {e.Message}");
        report.Notes.Add($"{name} stopped: {e.Message}");
    }
    env.UnmountAll();
}
report.Notes.Add($"whole run: {(DateTime.UtcNow - started).TotalMinutes:F1} min");
Console.WriteLine(report.Render(options.Rounds));
return 0;

void Interrupted(PosixSignalContext context)
{
    context.Cancel = true;
    Console.Error.WriteLine("bench: interrupted; unmounting and cleaning up");
    env.Dispose();
    Environment.Exit(130);
}

namespace VfsMount.Bench
{
    internal static class Machine
    {
        /// <summary>One line: cores and CPU, memory, the disk under the work directory, kernel, runtimes.</summary>
        public static string Describe(Env env)
        {
            string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            long memKb = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            string[] df = Sys.Check("df", "--output=source,fstype", env.Work).Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string disk = DiskOf(df[0]);
            string kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            string bindfs = Sys.Run("bindfs", ["--version"]).Out.Trim();
            string libfuse = Sys.Run("pkg-config", ["--modversion", "fuse3"]).Out.Trim();
            return $"**Machine:** {Environment.ProcessorCount} cores ({cpu}), {memKb / 1024.0 / 1024:F1} GiB RAM; " +
                   $"disk {df[0]} {df[1]} ({disk}); kernel {kernel}; .NET {Environment.Version}; {bindfs}; passthrough_ll of libfuse {libfuse}; " +
                   $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
        }

        private static string DiskOf(string source)
        {
            string name = Path.GetFileName(source);
            string block = $"/sys/class/block/{name}";
            if (!Directory.Exists(block)) return "no /sys/block entry";
            // A partition's disk is its parent directory in /sys/class/block/<p>/../
            string disk = File.Exists($"{block}/partition") ? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(
                Path.Combine(block, File.ResolveLinkTarget(block, true)?.FullName ?? block)))!)! : name;
            string sys = $"/sys/block/{disk}";
            string Read(string f) => File.Exists($"{sys}/{f}") ? File.ReadAllText($"{sys}/{f}").Trim() : "";
            double gib = long.TryParse(Read("size"), out long sectors) ? sectors * 512.0 / (1L << 30) : 0;
            string vendor = Read("device/vendor");
            string model = Read("device/model");
            string kind = vendor == "0x1af4" ? "virtio" : $"{vendor} {model}".Trim();
            return $"{disk}: {kind}, {gib:F0} GiB, rotational={Read("queue/rotational")}, scheduler {Read("queue/scheduler")}";
        }
    }
}

using System.CommandLine;
using System.Runtime.InteropServices;
using VfsMount.FileSystem;
using VfsMount.Fuse;
using VfsMount.Store;
using VfsMount.Store.Recovery;
using VfsMount.Store.Transcript;

namespace VfsMount.Cli;

/// <summary>
/// `vfsmount mount MOUNTPOINT`: recovers the store, mounts it and serves in the foreground
/// until unmounted; SIGINT/SIGTERM unmount cleanly and exit 0.
/// </summary>
internal static class MountCommand
{
    /// <summary>How often the age threshold is checked without appends (chibi's age floor is 60 s).</summary>
    private static readonly TimeSpan AgeCheck = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var store = StoreOption.Create();
        var options = new Option<string[]>("-o") { Description = "mount options, comma-separated: allow_other, ro, …", AllowMultipleArgumentsPerToken = false };
        var maxEntries = new Option<long?>("--partition-max-entries") { Description = "rotate the transcript after this many entries" };
        var maxTokens = new Option<long?>("--partition-max-tokens") { Description = "rotate after this many estimated tokens" };
        var maxAge = new Option<long?>("--partition-max-age-seconds") { Description = "rotate when the first entry is this old (at least 60)" };
        var logLevel = new Option<string>("--log-level") { Description = "error, warning (default: refusals and recoveries), info", DefaultValueFactory = _ => "warning" };
        logLevel.AcceptOnlyFromAmong("error", "warning", "info");
        var command = new Command("mount", "mount a chibi store; runs in the foreground until unmounted")
        {
            mountPoint, store, options, maxEntries, maxTokens, maxAge, logLevel,
        };
        command.SetAction(r => Run(
            r.GetValue(mountPoint)!, r.GetValue(store)!,
            (r.GetValue(options) ?? []).SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList(),
            new StorageOptions(r.GetValue(maxEntries), r.GetValue(maxTokens), r.GetValue(maxAge)),
            r.GetValue(logLevel)!));
        return command;
    }

    private static int Run(string mountPoint, string storeDir, List<string> mountOptions, StorageOptions storage, string logLevel)
    {
        mountPoint = Path.GetFullPath(mountPoint);
        if (Preflight(mountPoint, storeDir) is { } problem)
        {
            Console.Error.WriteLine($"vfsmount: cannot mount: {problem}");
            return 1;
        }
        var log = logLevel == "error" ? TextWriter.Null : Console.Error;
        var store = new ChibiStore(storeDir, storage);
        var mended = new List<string>();
        foreach (var left in StoreCheck.Run(store, repair: true, mended, countEntries: false)) log.WriteLine($"vfsmount: recovery: left as is: {left}");
        foreach (var m in mended) log.WriteLine($"vfsmount: recovery: {m}");

        var view = new ContextFileSystem(store, log);
        using var host = new FuseHost(view, mountPoint, new FuseHostOptions { MountOptions = mountOptions });
        view.ContentChanged += host.InvalidatePath;   // before close(2) returns: no reader sees old bytes after a commit
        using var watch = view.WatchStore();          // and others' changes in the store at once
        if (host.Mount(out string? error) != 0)
        {
            Console.Error.WriteLine($"vfsmount: cannot mount {mountPoint}: {error}");
            return 1;
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var ageTimer = new Timer(_ => RotateAged(store, log), null, TimeSpan.Zero, AgeCheck);   // also once at mount: a store may come back aged
        if (logLevel == "info" || logLevel == "warning") Console.Error.WriteLine($"vfsmount: mounted {store.Root} on {mountPoint}");
        int result = host.Run();
        if (logLevel != "error") Console.Error.WriteLine($"vfsmount: unmounted {mountPoint}");
        return result == 0 ? 0 : 1;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;   // we exit ourselves, after a clean unmount
            host.RequestExit();
        }
    }

    /// <summary>The reasons a mount fails that we can name with what to do; null when none applies.</summary>
    private static string? Preflight(string mountPoint, string storeDir)
    {
        if (!File.Exists("/dev/fuse"))
            return "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container --device /dev/fuse";
        if (!Directory.Exists(mountPoint))
            return $"mount point {mountPoint} does not exist: create it with mkdir -p {mountPoint}";
        if (IsMountPoint(mountPoint))
            return $"{mountPoint} is already mounted: unmount it first (vfsmount unmount {mountPoint})";
        try
        {
            Directory.CreateDirectory(Path.Combine(storeDir, "contexts"));
            string probe = Path.Combine(storeDir, $".vfsmount-tmp-probe.{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"store {storeDir} is not writable ({e.Message}): pass a writable --store or fix its permissions";
        }
        return null;
    }

    internal static bool IsMountPoint(string path)
    {
        // /proc/self/mountinfo field 5 is the mount point, with spaces escaped as \040.
        string escaped = path.Replace(" ", "\\040", StringComparison.Ordinal);
        return File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ') is { Length: > 4 } f && f[4] == escaped);
    }

    private static void RotateAged(ChibiStore store, TextWriter log)
    {
        foreach (var context in store.ListContexts())
        {
            try
            {
                if (store.Transcript(context).RotateIfDue()) log.WriteLine($"vfsmount: {context}: rotated the transcript by age");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.WriteLine($"vfsmount: {context}: age rotation failed: {e.Message}");
            }
        }
    }
}

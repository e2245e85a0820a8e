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
/// (or, with --daemon, in the background once ready) until unmounted; SIGINT/SIGTERM unmount
/// cleanly and exit 0.
/// </summary>
internal static class MountCommand
{
    /// <summary>How often the age threshold is checked without appends (chibi's age floor is 60 s).</summary>
    private static readonly TimeSpan AgeCheck = TimeSpan.FromSeconds(30);

    public static Command Create(IReadOnlyList<string> commandLine)
    {
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var store = StoreOption.Create();
        var options = new Option<string[]>("-o") { Description = "mount options, comma-separated: allow_other, ro, default_permissions, partition_max_entries=N, log_file=FILE, …", AllowMultipleArgumentsPerToken = false };
        var maxEntries = new Option<long?>("--partition-max-entries") { Description = "rotate the transcript after this many entries" };
        var maxTokens = new Option<long?>("--partition-max-tokens") { Description = "rotate after this many estimated tokens" };
        var maxAge = new Option<long?>("--partition-max-age-seconds") { Description = "rotate when the first entry is this old (at least 60)" };
        var logLevel = new Option<string>("--log-level") { Description = "error, warning (default: refusals and recoveries), info", DefaultValueFactory = _ => "warning" };
        logLevel.AcceptOnlyFromAmong("error", "warning", "info");
        var logFile = new Option<string?>("--log-file") { Description = "append the log to this file (each line with its time)" };
        var daemon = new Option<bool>("--daemon") { Description = "return once the mount is ready; the daemon goes on in the background" };
        var command = new Command("mount", "mount a chibi store; runs in the foreground until unmounted, or with --daemon in the background")
        {
            mountPoint, store, options, maxEntries, maxTokens, maxAge, logLevel, logFile, daemon,
        };
        command.SetAction(r =>
        {
            if (r.GetValue(daemon) && !Daemon.IsChild) return Daemon.StartAndWait(commandLine);
            if (Daemon.IsChild) Daemon.BecomeChild();
            MountOptions parsed;
            try
            {
                parsed = MountOptions.Parse(r.GetValue(options) ?? []);
            }
            catch (FormatException e)
            {
                Console.Error.WriteLine($"vfsmount: cannot mount: {e.Message}");
                return 1;
            }
            string level = r.GetResult(logLevel) is { Implicit: false } || parsed.LogLevel is null ? r.GetValue(logLevel)! : parsed.LogLevel;
            return Run(r.GetValue(mountPoint)!, r.GetValue(store)!, parsed,
                parsed.Storage(new StorageOptions(r.GetValue(maxEntries), r.GetValue(maxTokens), r.GetValue(maxAge))),
                level, r.GetValue(logFile) ?? parsed.LogFile);
        });
        return command;
    }

    private static int Run(string mountPoint, string storeDir, MountOptions mountOptions, StorageOptions storage, string logLevel, string? logFile)
    {
        mountPoint = Path.GetFullPath(mountPoint);
        LogSink sink;
        try
        {
            sink = new LogSink(Console.Error, logFile is null ? null : Path.GetFullPath(logFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"vfsmount: cannot mount: cannot open the log file {logFile}: {e.Message}");
            return 1;
        }
        using var _ = sink;
        Console.SetError(sink);   // every line of the process, the store's included, goes where the log goes
        if (Preflight(mountPoint, storeDir) is { } problem)
        {
            sink.WriteLine($"vfsmount: cannot mount: {problem}");
            return 1;
        }
        var log = logLevel == "error" ? TextWriter.Null : sink;
        var store = new ChibiStore(storeDir, storage);
        var mended = new List<string>();
        foreach (var left in StoreCheck.Run(store, repair: true, mended, countEntries: false)) log.WriteLine($"vfsmount: recovery: left as is: {left}");
        foreach (var m in mended) log.WriteLine($"vfsmount: recovery: {m}");

        var view = new ContextFileSystem(store, log);
        using var host = new FuseHost(new StatusView(view, mountPoint), mountPoint, new FuseHostOptions { MountOptions = [.. SourceOption(store.Root, mountOptions.Fuse), .. mountOptions.Fuse] });
        view.ContentChanged += host.InvalidatePath;   // before close(2) returns: no reader sees old bytes after a commit
        using var watch = view.WatchStore(host.StoreChanged);   // and others' changes in the store at once
        // Handlers before the mount: a SIGTERM the moment the mount shows in mountinfo must
        // unmount cleanly, not kill the process with the mount left dead.
        bool stopping = false;
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        SignalPoint.Hit("mount-start", () => Volatile.Read(ref stopping));
        if (host.Mount(out string? error) != 0)
        {
            sink.WriteLine($"vfsmount: cannot mount {mountPoint}: {error}");
            return 1;
        }
        if (Volatile.Read(ref stopping)) host.RequestExit();   // asked before there was a session to stop: the loop only unmounts
        using var ageTimer = new Timer(_ => RotateAged(store, log), null, TimeSpan.Zero, AgeCheck);   // also once at mount: a store may come back aged
        int result = 0;
        var loop = new Thread(() => result = host.Run()) { Name = "fuse loop" };
        loop.Start();
        SignalPoint.Hit("mount-before-ready", () => !loop.IsAlive);
        // Ready once the kernel shows the mount and it answers (this stat is served by the loop).
        // A SIGTERM may already have stopped the loop: that is a clean stop, not a failed mount.
        bool answering = IsMountPoint(mountPoint) && Directory.Exists(mountPoint);
        if (!answering && !Volatile.Read(ref stopping))
        {
            sink.WriteLine($"vfsmount: cannot mount {mountPoint}: the mount does not answer");
            host.RequestExit();
            loop.Join();
            return 1;
        }
        if (answering)
        {
            SystemdNotify("READY=1");
            if (Daemon.IsChild) Daemon.Ready(sink, logFile is null ? null : Path.GetFullPath(logFile));   // `mount` itself prints nothing once it worked
            if (logLevel != "error") sink.WriteLine($"vfsmount: mounted {store.Root} on {mountPoint} (pid {Environment.ProcessId})");
        }
        loop.Join();
        SystemdNotify("STOPPING=1");
        if (logLevel != "error") sink.WriteLine($"vfsmount: unmounted {mountPoint}");
        return result == 0 ? 0 : 1;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;   // we exit ourselves, after a clean unmount
            Volatile.Write(ref stopping, true);
            host.RequestExit();
        }
    }

    /// <summary>
    /// The store as the mount's source (findmnt's SOURCE, mountinfo's field after the type), as
    /// an fstab line names it: so `mount -a` sees the line is mounted. Not for a path with a
    /// comma, which the option list cannot carry, nor when -o gives an fsname of its own.
    /// </summary>
    private static IEnumerable<string> SourceOption(string store, List<string> fuse) =>
        store.Contains(',', StringComparison.Ordinal) || fuse.Any(o => o.StartsWith("fsname=", StringComparison.Ordinal)) ? [] : [$"fsname={store}"];

    /// <summary>systemd's Type=notify (sd_notify(3)): a datagram to $NOTIFY_SOCKET when systemd runs us.</summary>
    private static void SystemdNotify(string state)
    {
        if (Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is { Length: > 0 } socket) UnixDatagram.Send(socket, state);
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

using System.Globalization;

namespace VfsMount.Bench;

/// <summary>Sizes of one run: the full benchmark or the --quick smoke run.</summary>
internal sealed record Sizes(
    int Appends1, int Appends8PerWriter, int LineBytes,
    long ReadBytes, int Partitions,
    int Saves, int SaveBytes,
    int Contexts, int ScratchFiles,
    long RssDocBytes, long RssAppendBytes, int RssLineBytes)
{
    /// <summary>
    /// The appends of the memory workload are 1 MiB entries; each one reaches chibi's default
    /// 100 000-token threshold, so each append also rotates the transcript (6-11 appends/s
    /// here, ~3 min per round for 1 GiB). --rss-append-mib N changes the amount.
    /// </summary>
    public static readonly Sizes Full = new(1500, 250, 200, 1L << 30, 500, 200, 1 << 20, 1000, 10_000, 4L << 30, 1L << 30, 1 << 20);
    public static readonly Sizes Quick = new(200, 25, 200, 64L << 20, 50, 20, 1 << 20, 300, 2000, 256L << 20, 16L << 20, 1 << 20);
}

internal sealed record Options(bool Quick, int Rounds, string? Work, string? Repo, HashSet<string> Only, long? RssAppendMiB)
{
    public static readonly string[] Workloads = ["append1", "append8", "append8ctx", "read", "read2", "docs", "ls", "lswarm", "scratch", "rss"];

    public static Options Parse(string[] args)
    {
        bool quick = false;
        int rounds = 3;
        string? work = null, repo = null;
        long? rssAppendMiB = null;
        var only = new HashSet<string>(Workloads);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new BenchException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--rounds": rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--work": work = Next(); break;
                case "--rss-append-mib": rssAppendMiB = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--repo": repo = Next(); break;
                case "--only":
                    only = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries)];
                    if (only.Except(Workloads).FirstOrDefault() is { } bad) throw new BenchException($"unknown workload {bad}; known: {string.Join(',', Workloads)}");
                    break;
                case "-h" or "--help":
                    Console.WriteLine("usage: scripts/bench [--quick] [--rounds N] [--only " + string.Join(',', Workloads) + "] [--rss-append-mib N] [--work DIR] [--repo DIR]");
                    Environment.Exit(0);
                    break;
                default: throw new BenchException($"unknown argument {args[i]}");
            }
        }
        if (rounds < 1) throw new BenchException("--rounds must be at least 1");
        return new Options(quick, rounds, work, repo, only, rssAppendMiB);
    }
}

/// <summary>
/// Where the run happens: one temp directory on the disk of the checkout (stores, native
/// files, mount points) and a snapshot of the Release build, so a rebuild by someone else
/// during the run cannot change the program under test.
/// </summary>
internal sealed class Env : IDisposable
{
    private readonly bool _ownsWork;

    private Env(Options options, string repo, string work, bool ownsWork)
    {
        Options = options;
        Sizes = options.Quick ? Sizes.Quick : Sizes.Full;
        if (options.RssAppendMiB is { } mib) Sizes = Sizes with { RssAppendBytes = mib << 20 };
        Repo = repo;
        Work = work;
        _ownsWork = ownsWork;
        WorkersPy = Path.Combine(AppContext.BaseDirectory, "workers.py");
        Python = Sys.Check("python3", "-c", "import sys; print(sys.executable)").Trim();   // no pyenv shim per worker
        string cli = Path.Combine(repo, ".build", "cli");
        if (!File.Exists(Path.Combine(cli, "vfsmount.dll")))
            throw new BenchException($"{cli}/vfsmount.dll is missing: run ./vfsmount --help once to build it");
        string snapshot = Path.Combine(work, "cli");
        Directory.CreateDirectory(snapshot);
        foreach (var file in Directory.EnumerateFiles(cli))
            File.Copy(file, Path.Combine(snapshot, Path.GetFileName(file)), overwrite: true);
        VfsMountDll = Path.Combine(snapshot, "vfsmount.dll");
        PassthroughLl = BuildPassthroughLl(work);
    }

    /// <summary>libfuse's example, as Debian's libfuse3-dev ships it (scripts/ensure-deps installs that).</summary>
    public const string PassthroughLlSource = "/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c";

    /// <summary>
    /// Compiles libfuse's passthrough_ll example into the work directory at the start of the run
    /// (gcc -O2 against the installed libfuse3), so the C peer is the one of this machine's libfuse.
    /// </summary>
    private static string BuildPassthroughLl(string work)
    {
        if (!File.Exists(PassthroughLlSource))
            throw new BenchException($"{PassthroughLlSource} is missing: install libfuse3-dev (scripts/ensure-deps does)");
        string[] flags = Sys.Check("pkg-config", "--cflags", "--libs", "fuse3").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string binary = Path.Combine(work, "passthrough_ll");
        Sys.Check("gcc", ["-O2", "-o", binary, PassthroughLlSource, .. flags]);
        return binary;
    }

    public Options Options { get; }
    public Sizes Sizes { get; }
    public int Rounds => Options.Rounds;
    public string Repo { get; }
    public string Work { get; }
    public string WorkersPy { get; }
    public string Python { get; }
    public string VfsMountDll { get; }
    /// <summary>The passthrough_ll binary built for this run.</summary>
    public string PassthroughLl { get; }

    public string Dir(string name) => Path.Combine(Work, name);

    public static Env Create(Options options)
    {
        string repo = options.Repo ?? FindRepo();
        bool owns = options.Work is null;
        string work = options.Work ?? Path.Combine("/var/tmp", "vfsmount-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        return new Env(options, Path.GetFullPath(repo), Path.GetFullPath(work), owns);
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VfsMount.sln"))) return dir.FullName;
        throw new BenchException("run from the checkout (no VfsMount.sln above the current directory) or pass --repo");
    }

    /// <summary>Unmounts whatever is still mounted under the work directory (lazily), deepest first.</summary>
    public void UnmountAll()
    {
        var mounts = File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 4 && f[4].StartsWith(Work + "/", StringComparison.Ordinal))
            .Select(f => f[4].Replace("\\040", " ", StringComparison.Ordinal))
            .OrderByDescending(p => p.Length);
        foreach (var m in mounts) Sys.Unmount(m);
    }

    /// <summary>Deletes a directory under the work directory; never crosses into a mount.</summary>
    public void Remove(string path)
    {
        if (Directory.Exists(path)) Sys.Run("rm", ["-rf", "--one-file-system", path]);
    }

    public void Dispose()
    {
        UnmountAll();
        if (_ownsWork) Remove(Work);
    }
}

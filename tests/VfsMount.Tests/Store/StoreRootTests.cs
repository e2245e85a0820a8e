using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Tests.Mount;

namespace VfsMount.Tests.Store;

/// <summary>
/// StoreRoot: every open of a store path resolves beneath the store's root fd (openat2
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), a non-regular file is refused without blocking, and
/// long paths are walked in chunks; the C constants come from the platform.
/// </summary>
public sealed class StoreRootTests : IDisposable
{
    private const int ENOENT = 2, EIO = 5, EXDEV = 18, ENOTDIR = 20, ENAMETOOLONG = 36, ELOOP = 40, EOPNOTSUPP = 95;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly string _dir = Directory.CreateTempSubdirectory("vfsmount-root-").FullName;
    private readonly ChibiStore _store;
    private readonly string _outside;

    public StoreRootTests()
    {
        _store = new ChibiStore(Path.Combine(_dir, "store"));
        _outside = Path.Combine(_dir, "outside");
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "SECRET\n");
    }

    public void Dispose()
    {
        _store.StoreRoot.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string InStore(params string[] parts) => Path.Combine([_store.Root, .. parts]);

    /// <summary>Runs an operation that must not block (a FIFO open would, without O_NONBLOCK) and returns its result.</summary>
    private static T Bounded<T>(Func<T> op)
    {
        var task = Task.Run(op);
        Assert.True(task.Wait(Bound), "the operation blocked");
        return task.Result;
    }

    [Fact]
    public void Open_SymlinkedDirectoryOnTheWay_EloopOutsideUnread()
    {
        Directory.CreateSymbolicLink(InStore("contexts", "x"), _outside);
        Assert.Equal(ELOOP, PosixFile.Open(InStore("contexts", "x", "secret.txt"), PosixFile.ReadOnly, 0, out var file));
        Assert.Null(file);
        Assert.Equal(ELOOP, PosixFile.ReadAll(InStore("contexts", "x", "secret.txt"), out _));
        // A plain open outside any store still follows links as open(2) does.
        Assert.Equal(0, PosixFile.OpenAnywhere(Path.Combine(_dir, "outside", "secret.txt"), PosixFile.ReadOnly, 0, out var plain));
        plain!.Dispose();
    }

    [Fact]
    public void Open_SymlinkAsTheFile_EloopEvenWithCreate()
    {
        string link = InStore("state.json");
        File.CreateSymbolicLink(link, Path.Combine(_outside, "made-through-link"));
        Assert.Equal(ELOOP, PosixFile.Open(link, PosixFile.ReadWrite | PosixFile.Create, 0x1A4, out _));
        Assert.False(File.Exists(Path.Combine(_outside, "made-through-link")));
    }

    [Fact]
    public void Open_DotDotOutOfTheStore_Exdev()
    {
        Assert.Equal(EXDEV, PosixFile.Open(InStore("contexts", "..", "..", "outside", "secret.txt"), PosixFile.ReadOnly, 0, out _));
    }

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    [InlineData("readwrite")]
    [InlineData("create")]
    public void Open_FifoWhereARegularFileBelongs_EioWithoutBlocking(string how)
    {
        string fifo = InStore("contexts", "fifo");
        Assert.Equal(0, Mkfifo(fifo));
        int flags = how switch
        {
            "read" => PosixFile.ReadOnly,
            "write" => PosixFile.WriteOnly | PosixFile.Append,
            "readwrite" => PosixFile.ReadWrite,
            _ => PosixFile.ReadWrite | PosixFile.Create,
        };
        Assert.Equal(EIO, Bounded(() => PosixFile.Open(fifo, flags, 0x1A4, out _)));
    }

    [Fact]
    public void StoreReaders_PlantedFifos_RefusedWithoutBlocking()
    {
        _store.CreateContext("x");
        string ctx = _store.ContextDir("x");
        foreach (var name in (string[])[".lock", "local.toml"]) Assert.Equal(0, Mkfifo(Path.Combine(ctx, name)));
        Assert.Equal(0, Mkfifo(Path.Combine(ctx, "transcript", "manifest.json")));
        File.Delete(Path.Combine(ctx, "transcript", ".transcript.lock"));
        Assert.Equal(0, Mkfifo(Path.Combine(ctx, "transcript", ".transcript.lock")));

        Assert.Equal(EIO, Assert.IsType<PosixException>(Bounded(() => Record.Exception(() => _store.IsHeldByChibi("x")))).Errno);
        var transcript = _store.Transcript("x");
        var e = Assert.IsType<PosixException>(Bounded(() => Record.Exception(() => transcript.Append([EntryCompleter.Transcript("{\"content\":\"a\"}"u8.ToArray(), "x", "alice", 1_800_000_000)]))));
        Assert.Equal(EIO, e.Errno);
        Assert.Equal(EIO, Assert.IsType<PosixException>(Bounded(() => Record.Exception(() => VfsMount.Store.Transcript.Manifest.Load(transcript.ManifestPath)))).Errno);
    }

    [Fact]
    public void OpenDirectory_FifoOrSymlink_Refused()
    {
        Assert.Equal(0, Mkfifo(InStore("contexts", "fifo")));
        Directory.CreateSymbolicLink(InStore("contexts", "link"), _outside);
        Assert.Equal(ENOTDIR, Bounded(() => _store.StoreRoot.OpenDirectory(InStore("contexts", "fifo"), out _)));
        Assert.Equal(ELOOP, _store.StoreRoot.OpenDirectory(InStore("contexts", "link"), out _));
        Assert.Equal(ENOENT, _store.StoreRoot.OpenDirectory(InStore("contexts", "missing"), out _));
    }

    /// <summary>A directory fd pins what it opened: *at calls relative to it stay there when a name above is swapped for a link out.</summary>
    [Fact]
    public void OpenDirectory_NameAboveSwappedForALink_AtCallsStayInTheStore()
    {
        string ctx = InStore("contexts", "x");
        Directory.CreateDirectory(ctx);
        Assert.Equal(0, _store.StoreRoot.OpenDirectory(ctx, out var dir));
        using (dir)
        {
            Directory.Move(ctx, InStore("contexts", "aside"));
            Directory.CreateSymbolicLink(ctx, _outside);
            Assert.Equal(0, PosixFile.OpenAt(dir!, "made.txt", PosixFile.WriteOnly | PosixFile.Create, 0x1A4, out var made));
            made!.Dispose();
            Assert.Equal(EXDEV, PosixFile.OpenAt(dir!, "../link/x", PosixFile.ReadOnly, 0, out _));
        }
        Assert.True(File.Exists(InStore("contexts", "aside", "made.txt")));
        Assert.False(File.Exists(Path.Combine(_outside, "made.txt")));
    }

    [Fact]
    public void Lstat_SymlinkItself_IsLinkAndOnTheWay_Eloop()
    {
        Directory.CreateSymbolicLink(InStore("contexts", "x"), _outside);
        Assert.Equal(0, FileStatus.Lstat(InStore("contexts", "x"), out var st));
        Assert.True(st.IsSymlink);
        Assert.Equal(ELOOP, FileStatus.Lstat(InStore("contexts", "x", "secret.txt"), out _));
    }

    [Fact]
    public void PathOps_ThroughASymlinkedDirectory_EloopNothingOutsideChanged()
    {
        Directory.CreateSymbolicLink(InStore("contexts", "x"), _outside);
        Assert.Equal(ELOOP, PathOps.Mkdir(InStore("contexts", "x", "d"), 0x1ED));
        Assert.Equal(ELOOP, PathOps.Unlink(InStore("contexts", "x", "secret.txt")));
        Assert.Equal(ELOOP, PathOps.Rename(InStore("contexts", "x", "secret.txt"), InStore("stolen"), 0));
        Assert.Equal(ELOOP, PathOps.Symlink("t", InStore("contexts", "x", "l")));
        Assert.Equal(ELOOP, PathOps.Chmod(InStore("contexts", "x", "secret.txt"), 0x1FF));
        Assert.Equal(ELOOP, PathOps.List(InStore("contexts", "x"), out _));
        Assert.Equal(["secret.txt"], Directory.GetFileSystemEntries(_outside).Select(Path.GetFileName));
        Assert.Equal("SECRET\n", File.ReadAllText(Path.Combine(_outside, "secret.txt")));
    }

    [Fact]
    public void Chmod_Symlink_EopnotsuppTargetUnchanged()
    {
        string secret = Path.Combine(_outside, "secret.txt");
        Assert.Equal(0, PathOps.Chmod(secret, 0x180));   // outside any store: a plain chmod
        string link = InStore("link");
        File.CreateSymbolicLink(link, secret);
        Assert.Equal(EOPNOTSUPP, PathOps.Chmod(link, 0x1FF));
        Assert.Equal(0x180u, Mode(secret));
        File.WriteAllText(InStore("plain"), "");
        Assert.Equal(0, PathOps.Chmod(InStore("plain"), 0x1C0));
        Assert.Equal(0x1C0u, Mode(InStore("plain")));
    }

    /// <summary>
    /// A path longer than PATH_MAX beneath the root: walked in chunks, each opened beneath the
    /// last, so creating, reading, listing and removing work where open(2) of the whole path fails.
    /// </summary>
    [Fact]
    public void LongPath_OverPathMax_ChunkedOpensWork()
    {
        string name = new('d', 250);
        string path = InStore("contexts");
        for (int i = 0; i < 20; i++)   // 20 × 251 bytes: past PATH_MAX (4096)
        {
            path = Path.Combine(path, name);
            Assert.Equal(0, PathOps.Mkdir(path, 0x1ED));
        }
        string file = Path.Combine(path, "f.txt");
        Assert.True(Encoding.UTF8.GetByteCount(file) > 4096);
        Assert.Equal(ENAMETOOLONG, PosixFile.OpenAnywhere(file, PosixFile.ReadOnly | PosixFile.Create, 0x1A4, out _));

        Assert.Equal(0, PosixFile.Open(file, PosixFile.WriteOnly | PosixFile.Create | PosixFile.Exclusive, 0x1A4, out var created));
        using (created) Assert.Equal(0, created!.WriteAll("deep\n"u8));
        Assert.Equal(0, PosixFile.ReadAll(file, out var bytes));
        Assert.Equal("deep\n", Encoding.UTF8.GetString(bytes));
        Assert.Equal(0, FileStatus.Lstat(file, out var st));
        Assert.Equal(5, st.Size);
        Assert.Equal(0, PathOps.List(path, out var names));
        Assert.Equal(["f.txt"], names);
        Assert.Equal(0, PathOps.Rename(file, Path.Combine(path, "g.txt"), PathOps.RenameNoReplace));
        Assert.Equal(0, PathOps.Unlink(Path.Combine(path, "g.txt")));
        for (; path != InStore("contexts"); path = Path.GetDirectoryName(path)!)   // Directory.Delete cannot, past PATH_MAX
            Assert.Equal(0, PathOps.Rmdir(path));
    }

    /// <summary>The constants are the platform's: compared with what Python's os module (built from the same headers) says.</summary>
    [Fact]
    public void Constants_MatchThePlatformsHeaders()
    {
        var (exit, stdout, stderr) = Shell.Run("python3",
            ["-c", "import os, fcntl, errno; print(os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_NONBLOCK, os.O_DIRECTORY, os.O_NOFOLLOW, os.O_CLOEXEC, os.O_PATH, fcntl.LOCK_EX, fcntl.LOCK_NB, errno.ELOOP, errno.EXDEV, errno.EOPNOTSUPP)"],
            _dir, 30);
        Assert.True(exit == 0, stderr);
        int[] expected = stdout.Trim().Split(' ').Select(int.Parse).ToArray();
        Assert.Equal(expected, (int[])[Libc.O_CREAT, Libc.O_EXCL, Libc.O_TRUNC, Libc.O_APPEND, Libc.O_NONBLOCK, Libc.O_DIRECTORY,
            Libc.O_NOFOLLOW, Libc.O_CLOEXEC, Libc.O_PATH, Libc.LOCK_EX, Libc.LOCK_NB, Libc.ELOOP, Libc.EXDEV, Libc.EOPNOTSUPP]);
    }

    private static uint Mode(string path) => FileStatus.Lstat(path, out var st) == 0 ? st.Permissions : throw new FileNotFoundException(path);

    private static int Mkfifo(string path) => Shell.Run("mkfifo", [path], "/", 30).Exit;
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using VfsMount.FileSystem;
using VfsMount.Fuse;

namespace VfsMount.Tests.Host;

/// <summary>
/// Mounts an in-memory <see cref="IFileSystem"/> through <see cref="FuseHost"/> in this process
/// and drives it with real programs (bash, cat, ls, python3). Checks the host layer only:
/// request decoding, errno passing, write sizes, exit and unmount.
/// </summary>
[Collection("FuseHost")] // one mount at a time keeps failures readable; the host allows more
public sealed class FuseHostTests
{
    [Fact]
    public void Mount_ShowsAsVfsmount_AndServesShellTools()
    {
        using var m = MountFixture.Start();

        string mounts = File.ReadAllText("/proc/self/mounts");
        Assert.Contains($"vfsmount {m.Dir} fuse.vfsmount ", mounts);

        Sh.Ok($"echo hello > {m.Dir}/f");
        Assert.Equal("hello\n", m.Fs.Content("/f"));
        Assert.Equal("hello\n", Sh.Ok($"cat {m.Dir}/f"));

        Sh.Ok($"echo more >> {m.Dir}/f && mkdir {m.Dir}/d && mv {m.Dir}/f {m.Dir}/d/g && ln -s d/g {m.Dir}/link");
        Assert.Equal("hello\nmore\n", m.Fs.Content("/d/g"));
        Assert.Equal("d\nlink\n", Sh.Ok($"ls {m.Dir}"));
        Assert.Equal("d/g\n", Sh.Ok($"readlink {m.Dir}/link"));
        Assert.Equal("hello\nmore\n", Sh.Ok($"cat {m.Dir}/link"));
        Assert.Equal("11 regular file 644\n", Sh.Ok($"stat -c '%s %F %a' {m.Dir}/d/g"));

        Sh.Ok($"truncate -s 3 {m.Dir}/d/g && chmod 600 {m.Dir}/d/g");
        Assert.Equal("hel", m.Fs.Content("/d/g"));
        Assert.Equal("3 600\n", Sh.Ok($"stat -c '%s %a' {m.Dir}/d/g"));

        // O_TRUNC arrives in open (atomic_o_trunc), not as a separate truncate.
        Sh.Ok($"echo x > {m.Dir}/d/g");
        Assert.Contains(m.Fs.Opens, o => o.Path == "/d/g" && o.Flags.HasFlag(OpenFlags.Truncate));

        Sh.Ok($"rm {m.Dir}/link {m.Dir}/d/g && rmdir {m.Dir}/d");
        Assert.Equal("", Sh.Ok($"ls {m.Dir}"));
    }

    [Fact]
    public void Mount_MissingMountPoint_ReturnsENOENTAndAReason()
    {
        string dir = Path.Combine(Path.GetTempPath(), "vfsfuse-missing-" + Guid.NewGuid().ToString("N"));
        using var host = new FuseHost(new MemFs(), dir);

        int r = host.Mount(out string? error);

        Assert.Equal(Errno.ENOENT, r);
        Assert.Contains(dir, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Mount_UnknownOption_ReturnsEINVALAndLibfuseReason()
    {
        string dir = Directory.CreateTempSubdirectory("vfsfuse-opt-").FullName;
        try
        {
            using var host = new FuseHost(new MemFs(), dir, new FuseHostOptions { MountOptions = ["no_such_option"] });

            int r = host.Mount(out string? error);

            Assert.Equal(Errno.EINVAL, r);
            Assert.Contains("no_such_option", error, StringComparison.Ordinal);
            Assert.False(MountFixture.IsMounted(dir));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void RequestExit_BeforeRun_RunOnlyUnmounts()
    {
        string dir = Directory.CreateTempSubdirectory("vfsfuse-early-").FullName;
        try
        {
            using var host = new FuseHost(new MemFs(), dir);
            Assert.Equal(0, host.Mount(out _));
            Assert.True(MountFixture.IsMounted(dir));

            host.RequestExit();

            Assert.Equal(0, host.Run());
            Assert.False(MountFixture.IsMounted(dir));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void Write_OneMiB_ArrivesAsOneWriteCall()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/big", "");

        Sh.Python(m.Dir, "fd = os.open(f'{MNT}/big', os.O_WRONLY); assert os.write(fd, b'x' * (1 << 20)) == 1 << 20; os.close(fd)");

        Assert.Equal([1 << 20], m.Fs.WriteSizes.ToArray());
        Assert.Equal(1 << 20, m.Fs.Content("/big").Length);
    }

    [Fact]
    public void Write_OneMiB_DirectIo_PageAlignedBuffer_ArrivesAsOneWriteCall()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/log", "");
        m.Fs.DirectIo = true;

        // With direct_io the kernel pins the caller's pages, at most max_pages (256) per
        // request, so only a page-aligned 1 MiB buffer fits one request.
        Sh.Python(m.Dir, "import mmap; b = mmap.mmap(-1, 1 << 20); b.write(b'y' * (1 << 20)); "
            + "fd = os.open(f'{MNT}/log', os.O_WRONLY | os.O_APPEND); assert os.write(fd, b) == 1 << 20; os.close(fd)");

        Assert.Equal([1 << 20], m.Fs.WriteSizes.ToArray());
    }

    [Fact]
    public void Write_OneMiB_DirectIo_UnalignedBuffer_IsSplitByTheKernel()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/log", "");
        m.Fs.DirectIo = true;

        // Documents a kernel fact the view must live with: an unaligned 1 MiB buffer spans
        // 257 pages and reaches the filesystem as two write requests.
        Sh.Python(m.Dir, "import mmap; b = mmap.mmap(-1, 2 << 20); b.write(b'z' * (2 << 20)); "
            + "fd = os.open(f'{MNT}/log', os.O_WRONLY | os.O_APPEND); "
            + "assert os.write(fd, memoryview(b)[100:100 + (1 << 20)]) == 1 << 20; os.close(fd)");

        int[] sizes = m.Fs.WriteSizes.ToArray();
        Assert.Equal(1 << 20, sizes.Sum());
        Assert.Equal(2, sizes.Length);
    }

    [Fact]
    public void Close_ReturnsTheErrnoFlushReturned()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/doc", "old");
        m.Fs.FlushErrno = Errno.EINVAL;

        string output = Sh.Python(m.Dir, """
            f = open(f'{MNT}/doc', 'w')
            f.write('new')
            try:
                f.close()
                print('closed')
            except OSError as e:
                print('errno', e.errno)
            """);

        Assert.Equal("errno 22\n", output);
        Assert.True(m.Fs.Flushes > 0);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 0)]
    public void Close_OfAHandleOpenedWithNoFlush_SendsNoFlush(bool noFlush, int flushes)
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/scratch", "old");
        m.Fs.NoFlush = noFlush;

        Sh.Python(m.Dir, """
            with open(f'{MNT}/scratch', 'w') as f:
                f.write('new')
            """);

        Assert.Equal(flushes, Volatile.Read(ref m.Fs.Flushes));
    }

    [Fact]
    public void RequestExit_WithFileHeldOpen_EndsRunWithinTimeout()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/held", "data");

        using var holder = Sh.Start($"exec 3< {m.Dir}/held; echo opened; sleep 60");
        Assert.Equal("opened", holder.StandardOutput.ReadLine());

        var sw = Stopwatch.StartNew();
        m.Host.RequestExit();
        Assert.True(m.RunThread.Join(TimeSpan.FromSeconds(5)), "Run() did not return within 5 s");
        Assert.Equal(0, m.RunResult);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
        Assert.False(MountFixture.IsMounted(m.Dir), "still mounted after Run returned");
        holder.Kill(entireProcessTree: true);
    }

    [Fact]
    public void Callback_ThatThrows_AnswersEIO_AndTheMountSurvives()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/boom", "x");
        m.Fs.ThrowOnPath = "/boom"; // a real null dereference: SIGSEGV-based NullReferenceException

        string output = Sh.Python(m.Dir, """
            try:
                os.stat(f'{MNT}/boom')
            except OSError as e:
                print('errno', e.errno)
            """);

        Assert.Equal("errno 5\n", output);
        Assert.Contains(m.Logs, l => l.Contains("NullReferenceException", StringComparison.Ordinal));
        Assert.Equal("", Sh.Ok($"ls {m.Dir} >/dev/null"));
    }

    [Fact]
    public void Name_NotUtf8_IsRefusedWithEINVAL()
    {
        using var m = MountFixture.Start();

        string output = Sh.Python(m.Dir, """
            try:
                os.close(os.open(os.fsencode(MNT) + b'/bad\xff', os.O_CREAT | os.O_WRONLY))
                print('created')
            except OSError as e:
                print('errno', e.errno)
            """);

        Assert.Equal("errno 22\n", output);
    }

    [Fact]
    public void Unlink_WhileOpen_HandleKeepsWorking_AndFstatAnswersFromIt()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/tmpfile", "abcd");

        // Handle-based requests (read, write, ftruncate, lseek) keep working on an unlinked file,
        // and so does fstat, although the kernel sends its GETATTR without a file handle: the
        // node still has an open handle, which answers for it (Python's TemporaryFile).
        string output = Sh.Python(m.Dir, """
            fd = os.open(f'{MNT}/tmpfile', os.O_RDWR)
            os.unlink(f'{MNT}/tmpfile')
            os.write(fd, b'XY')
            os.ftruncate(fd, 3)
            os.lseek(fd, 0, 0)
            print(os.read(fd, 10).decode(), os.path.exists(f'{MNT}/tmpfile'))
            print('fstat size', os.fstat(fd).st_size)
            os.close(fd)
            """);

        Assert.Equal("XYc False\nfstat size 3\n", output);
    }

    [Fact]
    public void NodeTable_After100000LookupsOfChangingNames_ShrinksBackWhenTheKernelForgets()
    {
        using var m = MountFixture.Start();
        const int names = 100_000;
        for (int i = 0; i < names; i++) m.Fs.Add($"/n{i}", "");

        Sh.Python(m.Dir, $$"""
            for i in range({{names}}):
                os.stat(f'{MNT}/n{i}')
            """, timeoutMs: 120_000);
        int held = m.Host.NodeCount;
        Assert.True(held > names / 2, $"only {held} nodes after {names} lookups");

        // The store changes underneath; the kernel drops its dentries and inodes and forgets them.
        for (int i = 0; i < names; i++) m.Fs.Remove($"/n{i}");
        File.WriteAllText("/proc/sys/vm/drop_caches", "2");
        Assert.True(Within(TimeSpan.FromSeconds(10), () => m.Host.NodeCount < 100),
            $"{m.Host.NodeCount} nodes still held after the kernel dropped its caches");
    }

    private static bool Within(TimeSpan timeout, Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(50);
        }
        return true;
    }

    [Fact]
    public void Touch_PassesTimes_AndChownReachesTheView()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/t", "");
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;

        Sh.Ok($"touch {m.Dir}/t && touch -m -d @1000000000 {m.Dir}/t && chown 123:456 {m.Dir}/t");

        var times = m.Fs.TimeCalls.ToArray();
        Assert.True(times[0].Access >= before && times[0].Modify >= before, "UTIME_NOW resolved to now");
        Assert.Equal((null, 1_000_000_000L * 1_000_000_000), times[1]);
        Assert.Equal("1000000000\n", Sh.Ok($"stat -c %Y {m.Dir}/t"));
        Assert.Equal("123:456\n", Sh.Ok($"stat -c %u:%g {m.Dir}/t"));
    }

    [Fact]
    public async Task InvalidatePath_FromAnotherThread_DropsPagesAnOpenReaderCached()
    {
        using var m = MountFixture.Start();
        m.Fs.Add("/doc", "v1");
        string sync = Directory.CreateTempSubdirectory("vfsfuse-sync-").FullName;
        try
        {
            // The reader keeps its descriptor (and the page it cached) across the change.
            var reader = Task.Run(() => Sh.Python(m.Dir, $$"""
                import time
                fd = os.open(f'{MNT}/doc', os.O_RDONLY)
                assert os.pread(fd, 2, 0) == b'v1'
                open('{{sync}}/read', 'w').close()
                while not os.path.exists('{{sync}}/go'):
                    time.sleep(0.01)
                print(os.pread(fd, 2, 0).decode(), end='')
                """));
            Assert.True(SpinWait.SpinUntil(() => File.Exists(Path.Combine(sync, "read")), 10_000), "the reader did not start");

            m.Fs.OverwriteUnnoticed("/doc", "v9");
            m.Host.InvalidatePath("/doc");
            m.Host.InvalidatePath("/never-seen");   // nothing cached: no harm
            File.WriteAllText(Path.Combine(sync, "go"), "");

            Assert.Equal("v9", await reader.WaitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            Directory.Delete(sync, recursive: true);
        }
    }

    [Fact]
    public void FreedInodeNumber_GivenToANewFile_IsANewNode_NotTheOldOnesCachedPages()
    {
        using var m = MountFixture.Start();
        m.Fs.KeepCache = true;   // as document readers and the transcript: pages kept across opens
        long mtime = 1_700_000_000_000_000_000;
        m.Fs.AddStored("/a", "old!", new NodeIdentity(7, 100, Birth: 1), mtime);
        Assert.Equal("old!", Sh.Ok($"cat {m.Dir}/a"));   // the kernel caches a's page

        // a goes and a new file is born with its inode number (ext4 hands freed numbers out
        // again at once), same size, same mtime: only the birth time tells them apart.
        m.Fs.Remove("/a");
        m.Fs.AddStored("/b", "new!", new NodeIdentity(7, 100, Birth: 2), mtime);

        Assert.Equal("new!", Sh.Ok($"cat {m.Dir}/b"));
    }

    // ---- fixture ----------------------------------------------------------------------

    private sealed class MountFixture : IDisposable
    {
        public required string Dir { get; init; }
        public required MemFs Fs { get; init; }
        public required FuseHost Host { get; init; }
        public required ConcurrentQueue<string> Logs { get; init; }
        public Thread RunThread { get; private set; } = null!;
        public volatile int RunResult = -1;

        public static MountFixture Start()
        {
            string dir = Path.Combine(Path.GetTempPath(), "vfsfuse-test-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(dir);
            var fs = new MemFs();
            var logs = new ConcurrentQueue<string>();
            var host = new FuseHost(fs, dir, new FuseHostOptions { Log = logs.Enqueue });
            int r = host.Mount(out string? error);
            if (r != 0)
            {
                host.Dispose();
                Directory.Delete(dir);
                Assert.Fail($"mount failed: errno {r}: {error}");
            }
            var fixture = new MountFixture { Dir = dir, Fs = fs, Host = host, Logs = logs };
            fixture.RunThread = new Thread(() => fixture.RunResult = host.Run()) { IsBackground = true, Name = "fuse loop" };
            fixture.RunThread.Start();
            return fixture;
        }

        public static bool IsMounted(string dir) =>
            File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == dir);

        public void Dispose()
        {
            try
            {
                Host.RequestExit();
                if (!RunThread.Join(TimeSpan.FromSeconds(10)))
                    throw new TimeoutException("Run() did not return within 10 s of RequestExit");
            }
            finally
            {
                Host.Dispose();
                if (IsMounted(Dir))
                    Sh.Run($"fusermount3 -u {Dir}", 10_000);
                if (IsMounted(Dir))
                    Sh.Run($"fusermount3 -uz {Dir}", 10_000);
                try
                {
                    Directory.Delete(Dir);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    // ---- programs ---------------------------------------------------------------------

    private static class Sh
    {
        public static (int Exit, string Out, string Err) Run(string script, int timeoutMs = 20_000)
        {
            using var p = Start(script);
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"timed out after {timeoutMs} ms: {script}");
            }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }

        public static string Ok(string script, int timeoutMs = 20_000)
        {
            var (exit, output, error) = Run(script, timeoutMs);
            Assert.True(exit == 0, $"`{script}` exited {exit}: {error}");
            return output;
        }

        /// <summary>Runs python3 with <c>os</c> imported and <c>MNT</c> set to the mount point.</summary>
        public static string Python(string mnt, string code, int timeoutMs = 20_000)
        {
            string program = $"import os\nMNT = {Quote(mnt)}\n{code}\n";
            string file = Path.Combine(Path.GetTempPath(), $"vfsfuse-test-{Guid.NewGuid():N}.py");
            File.WriteAllText(file, program);
            try
            {
                return Ok($"python3 {file}", timeoutMs);
            }
            finally
            {
                File.Delete(file);
            }
        }

        public static Process Start(string script)
        {
            var psi = new ProcessStartInfo("bash")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            return Process.Start(psi)!;
        }

        private static string Quote(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
    }

    // ---- the in-memory filesystem -------------------------------------------------------

    private sealed class MemNode
    {
        public FileKind Kind;
        public uint Perm;
        public byte[] Data = [];
        public string Target = "";
        public long AccessNs, ModifyNs, ChangeNs;
        public uint Uid, Gid;
        public NodeIdentity Identity;
    }

    private sealed record HandleState(MemNode Node, OpenFlags Flags);

    /// <summary>A dictionary of paths, enough POSIX for shell tools; records what it saw.</summary>
    private sealed class MemFs : IFileSystem
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, MemNode> _nodes = new(StringComparer.Ordinal)
        {
            ["/"] = new MemNode { Kind = FileKind.Directory, Perm = 0755 },
        };
        private readonly Dictionary<ulong, HandleState> _handles = [];
        private ulong _nextHandle = 1;

        public volatile bool DirectIo;
        public volatile bool KeepCache;
        public volatile bool NoFlush;
        public volatile int FlushErrno;
        public volatile string? ThrowOnPath;
        public int Flushes;
        public ConcurrentQueue<int> WriteSizes { get; } = new();
        public ConcurrentQueue<(string Path, OpenFlags Flags)> Opens { get; } = new();
        public ConcurrentQueue<(long? Access, long? Modify)> TimeCalls { get; } = new();

        public void Add(string path, string content)
        {
            lock (_lock)
                _nodes[path] = new MemNode { Kind = FileKind.Regular, Perm = 0640, Data = Encoding.UTF8.GetBytes(content), ModifyNs = Now() };
        }

        /// <summary>A file of the backing store, with its identity there (device, inode, birth) and an mtime of its own.</summary>
        public void AddStored(string path, string content, NodeIdentity identity, long modifyNs)
        {
            lock (_lock)
                _nodes[path] = new MemNode { Kind = FileKind.Regular, Perm = 0640, Data = Encoding.UTF8.GetBytes(content), ModifyNs = modifyNs, Identity = identity };
        }

        /// <summary>New bytes of the same length and the same mtime: nothing in the attributes tells the kernel.</summary>
        public void OverwriteUnnoticed(string path, string content)
        {
            lock (_lock)
                _nodes[path].Data = Encoding.UTF8.GetBytes(content);
        }

        public void Remove(string path)
        {
            lock (_lock)
                _nodes.Remove(path);
        }

        public string Content(string path)
        {
            lock (_lock)
                return Encoding.UTF8.GetString(_nodes[path].Data);
        }

        private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;

        private static string Parent(string path) => path.LastIndexOf('/') is var i and > 0 ? path[..i] : "/";

        private unsafe void MaybeThrow(string path)
        {
            if (path == ThrowOnPath)
            {
                int* p = null;
                _ = *p; // NullReferenceException raised from SIGSEGV on a libfuse thread
            }
        }

        public int GetAttr(string path, ulong? handle, out FileAttr attr)
        {
            MaybeThrow(path);
            lock (_lock)
            {
                attr = default;
                MemNode? n = handle is { } h && _handles.TryGetValue(h, out var hs) ? hs.Node
                    : _nodes.GetValueOrDefault(path);
                if (n == null)
                    return Errno.ENOENT;
                attr.Kind = n.Kind;
                attr.Permissions = n.Perm;
                attr.Size = n.Kind == FileKind.Symlink ? Encoding.UTF8.GetByteCount(n.Target) : n.Data.Length;
                attr.AccessNs = n.AccessNs;
                attr.ModifyNs = n.ModifyNs;
                attr.ChangeNs = n.ChangeNs;
                attr.Links = n.Kind == FileKind.Directory ? 2u : 1u;
                (attr.Uid, attr.Gid) = (n.Uid, n.Gid);
                attr.Identity = n.Identity;
                return 0;
            }
        }

        public int ReadDir(string path, List<DirEntry> entries)
        {
            lock (_lock)
            {
                if (!_nodes.TryGetValue(path, out var d))
                    return Errno.ENOENT;
                if (d.Kind != FileKind.Directory)
                    return Errno.ENOTDIR;
                foreach (var (p, n) in _nodes)
                    if (p != "/" && Parent(p) == path)
                        entries.Add(new DirEntry(p[(p.LastIndexOf('/') + 1)..], n.Kind));
                entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                return 0;
            }
        }

        private OpenResult NewHandle(MemNode n, OpenFlags flags)
        {
            ulong h = _nextHandle++;
            _handles[h] = new HandleState(n, flags);
            return new OpenResult(h, DirectIo, KeepCache, NoFlush);
        }

        public int Open(string path, OpenFlags flags, Caller caller, out OpenResult result)
        {
            Opens.Enqueue((path, flags));
            lock (_lock)
            {
                result = default;
                if (!_nodes.TryGetValue(path, out var n))
                    return Errno.ENOENT;
                if (n.Kind == FileKind.Directory)
                    return Errno.EISDIR;
                if (flags.HasFlag(OpenFlags.Truncate))
                    n.Data = [];
                result = NewHandle(n, flags);
                return 0;
            }
        }

        public int Create(string path, uint mode, OpenFlags flags, Caller caller, out OpenResult result)
        {
            Opens.Enqueue((path, flags));
            lock (_lock)
            {
                result = default;
                if (!_nodes.TryGetValue(Parent(path), out var parent) || parent.Kind != FileKind.Directory)
                    return Errno.ENOENT;
                if (_nodes.TryGetValue(path, out var n))
                {
                    if (flags.HasFlag(OpenFlags.Exclusive))
                        return Errno.EEXIST;
                }
                else
                {
                    n = _nodes[path] = new MemNode { Kind = FileKind.Regular, Perm = mode & 0xFFF, ModifyNs = Now() };
                }
                result = NewHandle(n, flags);
                return 0;
            }
        }

        public int Read(ulong handle, Span<byte> buffer, long offset, out int bytesRead)
        {
            lock (_lock)
            {
                bytesRead = 0;
                if (!_handles.TryGetValue(handle, out var h))
                    return Errno.EBADF;
                byte[] d = h.Node.Data;
                if (offset < d.Length)
                {
                    bytesRead = (int)Math.Min(buffer.Length, d.Length - offset);
                    d.AsSpan((int)offset, bytesRead).CopyTo(buffer);
                }
                return 0;
            }
        }

        public int Write(ulong handle, ReadOnlySpan<byte> data, long offset, out int bytesWritten)
        {
            WriteSizes.Enqueue(data.Length);
            lock (_lock)
            {
                bytesWritten = 0;
                if (!_handles.TryGetValue(handle, out var h))
                    return Errno.EBADF;
                var n = h.Node;
                if (h.Flags.HasFlag(OpenFlags.Append))
                    offset = n.Data.Length;
                long end = offset + data.Length;
                if (end > n.Data.Length)
                    Array.Resize(ref n.Data, (int)end);
                data.CopyTo(n.Data.AsSpan((int)offset));
                n.ModifyNs = Now();
                bytesWritten = data.Length;
                return 0;
            }
        }

        public int Flush(ulong handle)
        {
            Interlocked.Increment(ref Flushes);
            return FlushErrno;
        }

        public int Release(ulong handle)
        {
            lock (_lock)
                _handles.Remove(handle);
            return 0;
        }

        public int Fsync(ulong handle, bool dataOnly) => 0;

        public int Truncate(string path, ulong? handle, long size)
        {
            lock (_lock)
            {
                MemNode? n = handle is { } h && _handles.TryGetValue(h, out var hs) ? hs.Node
                    : _nodes.GetValueOrDefault(path);
                if (n == null)
                    return Errno.ENOENT;
                Array.Resize(ref n.Data, (int)size);
                return 0;
            }
        }

        public int Unlink(string path)
        {
            lock (_lock)
                return _nodes.Remove(path) ? 0 : Errno.ENOENT;
        }

        public int Mkdir(string path, uint mode, Caller caller)
        {
            lock (_lock)
            {
                if (_nodes.ContainsKey(path))
                    return Errno.EEXIST;
                _nodes[path] = new MemNode { Kind = FileKind.Directory, Perm = mode & 0xFFF };
                return 0;
            }
        }

        public int Rmdir(string path, Caller caller = default)
        {
            lock (_lock)
            {
                if (_nodes.Keys.Any(p => p != "/" && Parent(p) == path))
                    return Errno.ENOTEMPTY;
                return _nodes.Remove(path) ? 0 : Errno.ENOENT;
            }
        }

        public int Rename(string from, string to, RenameFlags flags)
        {
            lock (_lock)
            {
                if (!_nodes.Remove(from, out var n))
                    return Errno.ENOENT;
                _nodes[to] = n;
                foreach (string p in _nodes.Keys.Where(p => p.StartsWith(from + "/", StringComparison.Ordinal)).ToList())
                {
                    _nodes.Remove(p, out var child);
                    _nodes[to + p[from.Length..]] = child!;
                }
                return 0;
            }
        }

        public int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller) => Errno.EPERM;

        public int Link(string existingPath, string newPath) => Errno.EPERM;

        public int Chown(string path, uint? uid, uint? gid)
        {
            lock (_lock)
            {
                if (!_nodes.TryGetValue(path, out var n)) return Errno.ENOENT;
                (n.Uid, n.Gid) = (uid ?? n.Uid, gid ?? n.Gid);
                return 0;
            }
        }

        public int Symlink(string target, string linkPath, Caller caller)
        {
            lock (_lock)
            {
                if (_nodes.ContainsKey(linkPath))
                    return Errno.EEXIST;
                _nodes[linkPath] = new MemNode { Kind = FileKind.Symlink, Perm = 0777, Target = target };
                return 0;
            }
        }

        public int ReadLink(string path, out string target)
        {
            lock (_lock)
            {
                target = "";
                if (!_nodes.TryGetValue(path, out var n))
                    return Errno.ENOENT;
                if (n.Kind != FileKind.Symlink)
                    return Errno.EINVAL;
                target = n.Target;
                return 0;
            }
        }

        public int Chmod(string path, uint mode)
        {
            lock (_lock)
            {
                if (!_nodes.TryGetValue(path, out var n))
                    return Errno.ENOENT;
                n.Perm = mode & 0xFFF;
                n.ChangeNs = Now();
                return 0;
            }
        }

        public int SetTimes(string path, long? accessNs, long? modifyNs)
        {
            TimeCalls.Enqueue((accessNs, modifyNs));
            lock (_lock)
            {
                if (!_nodes.TryGetValue(path, out var n))
                    return Errno.ENOENT;
                if (accessNs is { } a)
                    n.AccessNs = a;
                if (modifyNs is { } m)
                    n.ModifyNs = m;
                return 0;
            }
        }

        public int StatFs(string path, out FsStats stats)
        {
            stats = new FsStats { BlockSize = 4096, Blocks = 1000, BlocksFree = 500, BlocksAvailable = 500, Files = 100, FilesFree = 50, NameMax = 255 };
            return 0;
        }
    }
}

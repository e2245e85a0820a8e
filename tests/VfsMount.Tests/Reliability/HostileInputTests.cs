using System.Text;
using System.Text.Json;
using VfsMount.FileSystem;
using VfsMount.Store;
using VfsMount.Tests.Mount;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// SPEC §3 against hostile input through the real mount: malformed lines and documents, huge
/// nesting, over-long lines and names, control characters, symlinks planted in the store,
/// thousands of open handles, a writer killed mid-line. Each gets SPEC's errno, one log line,
/// the quarantine where SPEC keeps refused content, and the daemon keeps answering.
/// </summary>
[Collection("Mount")]
public sealed class HostileInputTests
{
    private const int ENOENT = 2, EEXIST = 17, ENOTDIR = 20, EINVAL = 22, EFBIG = 27, ENAMETOOLONG = 36, ELOOP = 40;

    private static JsonElement PythonJson(MountedStore m, string program, int timeoutSeconds = 60)
    {
        var (exit, stdout, stderr) = m.Python("import resource, stat, signal, time\n" + program, timeoutSeconds);
        Assert.True(exit == 0, $"python failed ({exit}): {stderr}\ndaemon log:\n{m.Log}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        return doc.RootElement.Clone();
    }

    /// <summary>The daemon's stderr reaches the test asynchronously: wait (bounded) for the expected log lines.</summary>
    internal static void Logged(MountedStore m, Func<bool> condition) =>
        Assert.True(LogView.WaitFor(condition, TimeSpan.FromSeconds(10)), "expected log lines missing; daemon log:\n" + m.Log);

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>The daemon is alive and answers a listing and an append.</summary>
    private static void AssertServing(MountedStore m, string context = "demo")
    {
        Assert.False(m.Daemon.HasExited, "the daemon exited:\n" + m.Log);
        Assert.Contains("transcript.jsonl", m.Ok($"ls {context}"));
        string marker = Guid.NewGuid().ToString("N");
        m.Ok($"echo '{{\"content\":\"{marker}\"}}' >> {context}/transcript.jsonl");
        Assert.Equal(marker, LogView.Contents(LogView.CatLines(m, $"{context}/transcript.jsonl"))[^1]);
    }

    private static readonly (string Name, string Python)[] BadLines =
    [
        ("invalid UTF-8", """b'{"content":"bad \xff\xfe here"}\n'"""),
        ("NUL in a string", """b'{"content":"a\x00b"}\n'"""),
        ("NUL after the object", """b'{"content":"x"}\x00\n'"""),
        ("nested 100000 deep", """b'{"a":' + b'[' * 100000 + b']' * 100000 + b'}\n'"""),
        ("negative timestamp", """b'{"timestamp":-1,"content":"t"}\n'"""),
        ("timestamp 2^64", """b'{"timestamp":18446744073709551616,"content":"t"}\n'"""),
        ("float timestamp", """b'{"timestamp":1.5,"content":"t"}\n'"""),
        ("duplicate keys", """b'{"content":"a","content":"b"}\n'"""),
        ("nested duplicate keys", """b'{"content":"a","metadata":{"summary":"x","summary":"y"}}\n'"""),
        ("array", """b'[1,2,3]\n'"""),
        ("string", """b'"just a string"\n'"""),
        ("number", """b'42\n'"""),
        ("null", """b'null\n'"""),
        ("good line before a bad one in one write", """b'{"content":"good"}\n{"content":"bad" x}\n'"""),
    ];

    [Fact]
    public void LogLines_Malformed_EachEinvalLoggedQuarantinedNothingAppended()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");
        string transcriptBefore = m.Ok("cat demo/transcript.jsonl");

        string cases = string.Join(",\n", BadLines.Select(c => $"    {c.Python}"));
        var result = PythonJson(m, $$"""
            cases = [
            {{cases}}
            ]
            def attempt(path, data):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, data); return 0
                except OSError as e:
                    return e.errno
                finally:
                    os.close(fd)
            out = [attempt('demo/transcript.jsonl', c) for c in cases]
            out += [attempt('demo/inbox.jsonl', c) for c in (b'[1]\n', b'{"content":"a","content":"b"}\n', b'{"content":"\xc3\x28"}\n')]
            out.append(attempt('demo/transcript.md', b'text \xff\xfe not utf-8\n'))
            print(json.dumps({'errnos': out, 'cases': [c.decode('latin-1') for c in cases]}))
            """, timeoutSeconds: 120);

        int n = BadLines.Length;
        Assert.Equal(Enumerable.Repeat(EINVAL, n + 4), Ints(result.GetProperty("errnos")));
        Assert.Equal(transcriptBefore, m.Ok("cat demo/transcript.jsonl"));
        Assert.Equal(transcriptBefore, Encoding.UTF8.GetString(LogView.StoreTranscript(m, "demo")));
        Assert.Equal("", m.Ok("cat demo/inbox.jsonl"));
        Assert.Equal("", m.Ok("cat demo/transcript.md"));

        // One refusal line each, naming context, file and EINVAL.
        Logged(m, () => LogView.Refusals(m, "demo/transcript.jsonl").Count(l => l.Contains("(EINVAL)", StringComparison.Ordinal)) == n
            && LogView.Refusals(m, "demo/inbox.jsonl").Count(l => l.Contains("(EINVAL)", StringComparison.Ordinal)) == 3
            && LogView.Refusals(m, "demo/transcript.md").Count(l => l.Contains("(EINVAL)", StringComparison.Ordinal)) == 1);

        // Every refused write is kept byte for byte, in order.
        var kept = LogView.QuarantineFiles(m);
        Assert.Equal(n + 4, kept.Length);
        var expected = result.GetProperty("cases").EnumerateArray().Select(c => Encoding.Latin1.GetBytes(c.GetString()!)).ToArray();
        for (int i = 0; i < n; i++) Assert.True(expected[i].AsSpan().SequenceEqual(File.ReadAllBytes(kept[i])), $"quarantined copy of '{BadLines[i].Name}' differs");
        Assert.All(kept, k => Assert.True(new FileInfo(k + ".reason").Length > 0));

        AssertServing(m);
    }

    [Fact]
    public void SummaryMd_InvalidUtf8_EinvalAtWriteQuarantinedCommittedKept()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && echo kept > demo/summary.md");

        // SPEC §2.2 "Refuse early": bytes that are not UTF-8 fail the write itself; close then has nothing to commit.
        var result = PythonJson(m, """
            out = []
            for data in (b'ok \xff\xfe broken\n', b'nul \x00 is utf-8 but \xc0\x80 is not\n'):
                fd = os.open('demo/summary.md', os.O_WRONLY | os.O_TRUNC)
                try:
                    os.write(fd, data); out.append(0)
                except OSError as e:
                    out.append(e.errno)
                os.close(fd); out.append(0)
            print(json.dumps(out))
            """);

        Assert.Equal([EINVAL, 0, EINVAL, 0], Ints(result));
        Assert.Equal("kept\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("kept\n", File.ReadAllText(m.StorePath("contexts", "demo", "summary.md")));
        var kept = LogView.QuarantineFiles(m);
        Assert.Equal(2, kept.Length);
        Assert.Equal(new byte[] { (byte)'o', (byte)'k', (byte)' ', 0xff, 0xfe }, File.ReadAllBytes(kept[0])[..5]);
        Logged(m, () => LogView.Refusals(m, "demo/summary.md").Count(l => l.Contains("(EINVAL)", StringComparison.Ordinal)) == 2);
        Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
        AssertServing(m);
    }

    [Fact]
    public void InboxLine_17MiB_EfbigQuarantinedNothingAppended()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && echo '{\"content\":\"first\"}' >> demo/inbox.jsonl");
        string before = m.Ok("cat demo/inbox.jsonl");

        var result = PythonJson(m, """
            fd = os.open('demo/inbox.jsonl', os.O_WRONLY | os.O_APPEND)
            data = b'{"content":"' + b'x' * (17 << 20) + b'"}\n'
            err = 0
            view = memoryview(data)
            try:
                while len(view):
                    view = view[os.write(fd, view[:1 << 20]):]
            except OSError as e:
                err = e.errno
            try:
                os.close(fd); closed = 0
            except OSError as e:
                closed = e.errno
            print(json.dumps([err, closed]))
            """, timeoutSeconds: 120);

        Assert.Equal(EFBIG, result[0].GetInt32());
        Assert.Contains(result[1].GetInt32(), new[] { 0, EINVAL });
        Assert.Equal(before, m.Ok("cat demo/inbox.jsonl"));
        Logged(m, () => LogView.Refusals(m, "demo/inbox.jsonl").Any(l => l.Contains("(EFBIG)", StringComparison.Ordinal)));
        Assert.Contains(LogView.QuarantineFiles(m), f => new FileInfo(f).Length >= 16 << 20);
        AssertServing(m);
        m.Ok("echo '{\"content\":\"second\"}' >> demo/inbox.jsonl");
        Assert.Equal(["first", "second"], LogView.Contents(LogView.CatLines(m, "demo/inbox.jsonl")));
    }

    [Fact]
    public void Names_ControlCharactersDotsAndLength_ContextsRefusedScratchAllowed()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");

        var r = PythonJson(m, """
            def e(f):
                try:
                    f(); return 0
                except OSError as x:
                    return x.errno
            def create(path, data=b'ok'):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                os.write(fd, data); os.close(fd)
            out = {
              'ctx_ctrl': e(lambda: os.mkdir('a\x01b')),
              'ctx_newline': e(lambda: os.mkdir('a\nb')),
              'ctx_dots': e(lambda: os.mkdir('...')),
              'ctx_dotdot_inside': e(lambda: os.mkdir('a..b')),
              'ctx_dotdot': e(lambda: os.mkdir('..')),
              'ctx_300': e(lambda: os.mkdir('c' * 300)),
              'ctx_255': e(lambda: os.mkdir('c' * 255)),
              'ctx_255_rmdir': e(lambda: os.rmdir('c' * 255)),
              'rename_ctrl': e(lambda: os.rename('demo', 'de\x01mo')),
              'scratch_ctrl': e(lambda: create('demo/a\x01b', b'ctrl')),
              'scratch_newline': e(lambda: create('demo/line\nbreak', b'nl')),
              'scratch_255': e(lambda: create('demo/' + 'n' * 255)),
              'scratch_256': e(lambda: create('demo/' + 'n' * 256)),
              'scratch_dir_256': e(lambda: os.mkdir('demo/' + 'd' * 256)),
              'scratch_dotdot_name': e(lambda: create('demo/..x')),
            }
            out['read_ctrl'] = open('demo/a\x01b', 'rb').read().decode()
            out['read_newline'] = open('demo/line\nbreak', 'rb').read().decode()
            out['listed'] = sorted(n for n in os.listdir('demo') if n in ('a\x01b', 'line\nbreak', '..x'))
            out['top'] = sorted(os.listdir('.'))
            print(json.dumps(out))
            """);

        Assert.Equal(EINVAL, r.GetProperty("ctx_ctrl").GetInt32());
        Assert.Equal(EINVAL, r.GetProperty("ctx_newline").GetInt32());
        Assert.Equal(EINVAL, r.GetProperty("ctx_dots").GetInt32());
        Assert.Equal(EINVAL, r.GetProperty("ctx_dotdot_inside").GetInt32());
        Assert.Equal(EEXIST, r.GetProperty("ctx_dotdot").GetInt32());   // the kernel's answer: '..' is the mount's parent
        Assert.Equal(ENAMETOOLONG, r.GetProperty("ctx_300").GetInt32());
        Assert.Equal(0, r.GetProperty("ctx_255").GetInt32());
        Assert.Equal(0, r.GetProperty("ctx_255_rmdir").GetInt32());
        Assert.Equal(EINVAL, r.GetProperty("rename_ctrl").GetInt32());
        // Scratch names are ordinary POSIX names: control characters and dots are fine there.
        Assert.Equal(0, r.GetProperty("scratch_ctrl").GetInt32());
        Assert.Equal(0, r.GetProperty("scratch_newline").GetInt32());
        Assert.Equal(0, r.GetProperty("scratch_255").GetInt32());
        Assert.Equal(ENAMETOOLONG, r.GetProperty("scratch_256").GetInt32());
        Assert.Equal(ENAMETOOLONG, r.GetProperty("scratch_dir_256").GetInt32());
        Assert.Equal(0, r.GetProperty("scratch_dotdot_name").GetInt32());
        Assert.Equal("ctrl", r.GetProperty("read_ctrl").GetString());
        Assert.Equal("nl", r.GetProperty("read_newline").GetString());
        Assert.Equal(["..x", "a\u0001b", "line\nbreak"], r.GetProperty("listed").EnumerateArray().Select(x => x.GetString()!).ToArray());
        Assert.Equal([".vfsmount", "demo", "state.json"], r.GetProperty("top").EnumerateArray().Select(x => x.GetString()!).ToArray());
        Assert.Equal("ctrl", File.ReadAllText(m.StorePath("contexts", "demo", "a\u0001b")));
        Assert.False(Directory.Exists(m.StorePath("contexts", "de\u0001mo")));

        // Each refused context name is logged on one line of its own, even with a '\n' in it.
        Logged(m, () => m.Log.Split('\n').Count(l => l.Contains("invalid context name", StringComparison.Ordinal)) >= 5);
        var refusals = m.Log.Split('\n').Where(l => l.Contains("invalid context name", StringComparison.Ordinal)).ToArray();
        Assert.Equal(5, refusals.Length);
        Assert.All(refusals, l => Assert.StartsWith("vfsmount:", l, StringComparison.Ordinal));
        Assert.Contains(refusals, l => l.Contains("\"a\\x0ab\"", StringComparison.Ordinal));
        Assert.Single(refusals, l => l.Contains("(ENAMETOOLONG)", StringComparison.Ordinal));
        AssertServing(m);
    }

    /// <summary>
    /// Symlinks planted in the store point (relatively) at files outside it. The store is one
    /// level deeper than the mount point (STORE/contexts/x vs MNT/x), so the same relative target
    /// resolves to different places: the store's view (what a following daemon would reach) is a
    /// real directory with a canary; the kernel's view from the mount does not exist. So nothing
    /// read through the mount can come from the canary unless the daemon followed the link.
    /// </summary>
    [Fact]
    public void PlantedSymlinks_NeitherReadNorWrittenThroughByTheDaemon()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir x && mkdir z && echo '{\"content\":\"z real\"}' >> z/transcript.jsonl && echo '{\"content\":\"inbox\"}' >> x/inbox.jsonl");
        string outsideName = "outside-" + Guid.NewGuid().ToString("N");
        string outside = Path.Combine(m.Root, outsideName);   // STORE/contexts/x/../../../NAME
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "SECRET\n");
        File.WriteAllText(Path.Combine(outside, "active.jsonl"), "{\"content\":\"SECRET LINE\"}\n");
        string ctx = m.StorePath("contexts", "x");
        File.CreateSymbolicLink(Path.Combine(ctx, "summary.md"), $"../../../{outsideName}/secret.txt");
        File.CreateSymbolicLink(Path.Combine(ctx, "sub"), $"../../../{outsideName}");
        File.CreateSymbolicLink(m.StorePath("contexts", "y"), outside);
        // A lock file planted as a dangling link: opening it O_CREAT would create a file outside.
        File.Delete(Path.Combine(ctx, ".inbox.lock"));
        File.CreateSymbolicLink(Path.Combine(ctx, ".inbox.lock"), Path.Combine(outside, "created-by-inbox-lock"));
        // z's whole transcript/ replaced by a link to a directory outside with an active.jsonl of its own.
        string zTranscript = m.StorePath("contexts", "z", "transcript");
        Directory.Move(zTranscript, Path.Combine(m.Root, "z-transcript-aside"));
        File.CreateSymbolicLink(zTranscript, $"../../../{outsideName}");
        var outsideBefore = Snapshot(outside);

        var r = PythonJson(m, """
            def e(f):
                try:
                    r = f(); return r if r is not None else 0
                except OSError as x:
                    return x.errno
            def append(path, data):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            out = {
              'is_link': stat.S_ISLNK(os.lstat('x/summary.md').st_mode),
              'readlink': os.readlink('x/summary.md'),
              'read': e(lambda: open('x/summary.md', 'rb').read().decode()),
              'read_nofollow': e(lambda: os.open('x/summary.md', os.O_RDONLY | os.O_NOFOLLOW)),
              'write': e(lambda: open('x/summary.md', 'w').write('pwned')),
              'write_nofollow': e(lambda: os.open('x/summary.md', os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)),
              'sub_is_link': stat.S_ISLNK(os.lstat('x/sub').st_mode),
              'sub_list': e(lambda: os.listdir('x/sub')),
              'sub_read': e(lambda: open('x/sub/secret.txt', 'rb').read().decode()),
              'sub_create': e(lambda: open('x/sub/new.txt', 'w').write('pwned')),
              'y_listed': 'y' in os.listdir('.'),
              'y_stat': e(lambda: os.stat('y') and None),
              'y_list': e(lambda: os.listdir('y')),
              'y_append': e(lambda: append('y/transcript.jsonl', b'{"content":"pwned"}\n')),
              'y_mkdir': e(lambda: os.mkdir('y')),
              'inbox_append': e(lambda: append('x/inbox.jsonl', b'{"content":"through a planted lock"}\n')),
              'z_read': e(lambda: open('z/transcript.jsonl', 'rb').read().decode()),
              'z_append': e(lambda: append('z/transcript.jsonl', b'{"content":"pwned"}\n')),
              'z_dir': e(lambda: os.listdir('z/transcript')),
            }
            print(json.dumps(out))
            """);

        Assert.True(r.GetProperty("is_link").GetBoolean());
        Assert.Equal($"../../../{outsideName}/secret.txt", r.GetProperty("readlink").GetString());
        // The kernel resolves the link from the mount, where the target does not exist: never the canary.
        Assert.Equal(ENOENT, r.GetProperty("read").GetInt32());
        Assert.Equal(ELOOP, r.GetProperty("read_nofollow").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("write").GetInt32());
        Assert.Equal(ELOOP, r.GetProperty("write_nofollow").GetInt32());
        Assert.True(r.GetProperty("sub_is_link").GetBoolean());
        Assert.Equal(ENOENT, r.GetProperty("sub_list").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("sub_read").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("sub_create").GetInt32());
        Assert.False(r.GetProperty("y_listed").GetBoolean());
        Assert.Equal(ENOENT, r.GetProperty("y_stat").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("y_list").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("y_append").GetInt32());
        Assert.Equal(EEXIST, r.GetProperty("y_mkdir").GetInt32());
        Assert.Equal(ELOOP, r.GetProperty("inbox_append").GetInt32());
        Assert.Equal(ELOOP, r.GetProperty("z_read").GetInt32());
        Assert.Equal(ELOOP, r.GetProperty("z_append").GetInt32());
        Assert.Equal(ENOENT, r.GetProperty("z_dir").GetInt32());   // a link the kernel resolves from the mount

        Assert.Equal(outsideBefore, Snapshot(outside));
        Assert.DoesNotContain("SECRET", m.Ok("cat x/inbox.jsonl"));
        Assert.Equal(["inbox"], LogView.Contents(LogView.CatLines(m, "x/inbox.jsonl")));

        // rename(scratch, document) replaces the planted link itself; its target stays as it was.
        m.Ok("echo mine > x/new.md && mv x/new.md x/summary.md");
        Assert.Equal("mine\n", m.Ok("cat x/summary.md"));
        Assert.Null(new FileInfo(Path.Combine(ctx, "summary.md")).LinkTarget);
        Assert.Equal(outsideBefore, Snapshot(outside));
        AssertServing(m, "x");
    }

    /// <summary>
    /// The daemon's own paths for a link it meets (a link planted between the kernel's lookup and
    /// the daemon's call): the view itself, without the kernel resolving anything first.
    /// </summary>
    [Fact]
    public void PlantedSymlinks_ViewCalledDirectly_NeverFollows()
    {
        string root = Directory.CreateTempSubdirectory("vfsmount-hostile-").FullName;
        try
        {
            var store = new ChibiStore(Path.Combine(root, "store"));
            var log = new StringWriter();
            var fs = new ContextFileSystem(store, log);
            Assert.Equal(0, fs.Mkdir("/x", 0x1ED, new Caller(0, 0, Environment.ProcessId)));
            string outside = Path.Combine(root, "outside");
            Directory.CreateDirectory(outside);
            string secret = Path.Combine(outside, "secret.txt");
            File.WriteAllText(secret, "SECRET\n");
            string ctx = store.ContextDir("x");
            File.CreateSymbolicLink(Path.Combine(ctx, "summary.md"), secret);
            File.CreateSymbolicLink(Path.Combine(ctx, "todos.md"), secret);
            File.CreateSymbolicLink(Path.Combine(ctx, "sub"), outside);
            var caller = new Caller(0, 0, Environment.ProcessId);
            var before = Snapshot(outside);

            Assert.Equal(ELOOP, fs.Open("/x/summary.md", OpenFlags.ReadOnly, caller, out _));
            Assert.Equal(ELOOP, fs.Open("/x/sub/secret.txt", OpenFlags.ReadOnly, caller, out _));
            Assert.Equal(ELOOP, fs.Open("/x/sub/secret.txt", OpenFlags.Write, caller, out _));
            Assert.Equal(ELOOP, fs.Create("/x/sub/new.txt", 0x1A4, OpenFlags.Write, caller, out _));
            Assert.Equal(ELOOP, fs.ReadDir("/x/sub", []));   // opened beneath the root, as every row here
            Assert.Equal(ELOOP, fs.Mkdir("/x/sub/d", 0x1ED, caller));
            Assert.Equal(ELOOP, fs.Unlink("/x/sub/secret.txt"));
            Assert.Equal(ELOOP, fs.Truncate("/x/sub/secret.txt", null, 0));
            Assert.Equal(ELOOP, fs.Rename("/x/sub/secret.txt", "/x/stolen.txt", RenameFlags.None));

            // A writing handle on a linked document stages from nothing (never copies the target)
            // and its commit replaces the link, not what it points at.
            Assert.Equal(0, fs.Open("/x/summary.md", OpenFlags.ReadWrite, caller, out var open));
            var buffer = new byte[64];
            Assert.Equal(0, fs.Read(open.Handle, buffer, 0, out int read));
            Assert.Equal(0, read);
            Assert.Equal(0, fs.Write(open.Handle, "mine\n"u8, 0, out _));
            Assert.Equal(0, fs.Flush(open.Handle));
            Assert.Equal(0, fs.Release(open.Handle));
            Assert.Equal("mine\n", File.ReadAllText(Path.Combine(ctx, "summary.md")));
            Assert.Null(new FileInfo(Path.Combine(ctx, "summary.md")).LinkTarget);

            // truncate(2) by name of a linked document: the same, on its own staged copy.
            Assert.Equal(0, fs.Truncate("/x/todos.md", null, 0));
            Assert.Equal("", File.ReadAllText(Path.Combine(ctx, "todos.md")));
            Assert.Null(new FileInfo(Path.Combine(ctx, "todos.md")).LinkTarget);
            Assert.Equal(before, Snapshot(outside));
            Assert.Equal("SECRET\n", File.ReadAllText(secret));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ThousandsOfHandles_OpenedAndClosed_DaemonStaysUpAndReleasesThem()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && echo kept > demo/summary.md && echo '{\"content\":\"first\"}' >> demo/transcript.jsonl");
        int fdsBefore = OpenFds(m);

        var r = PythonJson(m, """
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
            fds = []
            for i in range(1000): fds.append(os.open('demo/transcript.jsonl', os.O_WRONLY | os.O_APPEND))
            for i in range(500): fds.append(os.open('demo/transcript.jsonl', os.O_RDONLY))
            for i in range(1000): fds.append(os.open('demo/summary.md', os.O_RDONLY))
            for i in range(500): fds.append(os.open('demo/summary.md', os.O_WRONLY))
            os.write(fds[777], b'{"content":"while 3000 are open"}\n')
            os.write(fds[2999], b'written by the last handle\n')
            seen = os.pread(fds[1200], 1 << 20, 0).decode()
            doc = os.pread(fds[1600], 100, 0).decode()
            for fd in fds: os.close(fd)
            print(json.dumps({'open': len(fds), 'seen': 'while 3000 are open' in seen, 'doc': doc}))
            """, timeoutSeconds: 180);

        Assert.Equal(3000, r.GetProperty("open").GetInt32());
        Assert.True(r.GetProperty("seen").GetBoolean());
        Assert.Equal("kept\n", r.GetProperty("doc").GetString());
        Assert.Equal("written by the last handle\n", m.Ok("cat demo/summary.md"));
        Assert.Equal(["Context created", "first", "while 3000 are open"], LogView.Contents(LogView.CatLines(m, "demo/transcript.jsonl")));
        // Releases arrive after close(2) returns: the daemon's descriptors go back to where they were.
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(20), () => OpenFds(m) <= fdsBefore + 8), $"daemon holds {OpenFds(m)} descriptors, {fdsBefore} before");
        Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
        AssertServing(m);
    }

    [Fact]
    public void UnfinishedLine_WriterKilled9_FragmentNeverAppendedTorn()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");
        string active = m.StorePath("contexts", "demo", "transcript", "active.jsonl");
        int quarantined = LogView.QuarantineFiles(m).Length;

        using (var torn = Background.Python(m, """
            fd = os.open('demo/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'{"content":"complete"}\n{"content":"frag')
            print('ready', flush=True)
            time.sleep(120)
            """))
        using (var whole = Background.Python(m, """
            fd = os.open('demo/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'{"content":"an object without its newline"}')
            print('ready', flush=True)
            time.sleep(120)
            """))
        {
            Assert.True(LogView.WaitFor(() => torn.Out.Contains("ready") && whole.Out.Contains("ready"), TimeSpan.FromSeconds(30)), torn.Err + whole.Err);
            // While they hold their unfinished lines: only complete lines are visible, and others append between.
            m.Ok("echo '{\"content\":\"meanwhile\"}' >> demo/transcript.jsonl");
            Assert.Equal(["Context created", "complete", "meanwhile"], LogView.Contents(LogView.CatLines(m, "demo/transcript.jsonl")));
            Assert.EndsWith("\n", File.ReadAllText(active), StringComparison.Ordinal);
            Assert.DoesNotContain("frag", File.ReadAllText(active), StringComparison.Ordinal);

            foreach (var p in new[] { torn.Process, whole.Process })
            {
                Shell.Run("kill", ["-9", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], "/", 10);
                Assert.True(p.WaitForExit(10_000));
            }
        }

        // The kernel closes a killed writer's descriptors: a valid unfinished object is appended
        // whole with its '\n' (SPEC §2.1, close); an invalid fragment is refused and quarantined.
        Assert.True(LogView.WaitFor(() => LogView.QuarantineFiles(m).Length > quarantined
            && File.ReadAllText(active).Contains("an object without its newline", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), m.Log);
        var contents = LogView.Contents(LogView.CatLines(m, "demo/transcript.jsonl"));
        Assert.Equal(["Context created", "complete", "meanwhile", "an object without its newline"], contents);
        string stored = File.ReadAllText(active);
        Assert.EndsWith("\n", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("frag", stored, StringComparison.Ordinal);
        Assert.Equal("{\"content\":\"frag\n", File.ReadAllText(LogView.QuarantineFiles(m)[^1]));
        // The log line follows the quarantined copy (and the daemon's stderr arrives asynchronously).
        Logged(m, () => LogView.Refusals(m, "demo/transcript.jsonl").Any(l => l.Contains("(EINVAL)", StringComparison.Ordinal)));
        AssertServing(m);
    }

    private static int OpenFds(MountedStore m) => Directory.GetFiles($"/proc/{m.Daemon.Id}/fd").Length;

    /// <summary>Every file under a directory with its bytes, to prove nothing there changed.</summary>
    private static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToBase64String(File.ReadAllBytes(f)));
}

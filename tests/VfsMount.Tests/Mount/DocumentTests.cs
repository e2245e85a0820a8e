using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// Documents (SPEC §2.2) through the kernel: staged per handle, committed whole on close and
/// fsync, validated, never seen half-written by other readers.
/// </summary>
[Collection("Mount")]
public sealed class DocumentTests
{
    private static string Doc(MountedStore m, string name) => m.StorePath("contexts", "demo", name);

    private static MountedStore StartWithDemo()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir demo");
        return m;
    }

    private static void AssertNoStrays(MountedStore m)
    {
        Assert.Empty(ViewProbe.StrayNames(ViewProbe.Ls(m, "demo")));
        Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
        Assert.Empty(ViewProbe.StrayFiles(m.Store));
    }

    /// <summary>Runs a python program that prints one JSON object of observations.</summary>
    private static JsonElement Observe(MountedStore m, string program)
    {
        var (exit, stdout, stderr) = m.Python($"STORE = {JsonSerializer.Serialize(m.StorePath("contexts", "demo"))}\n" +
            "def stored(name):\n    with open(os.path.join(STORE, name), 'rb') as f: return f.read().decode('utf-8', 'replace')\n" +
            "def seen(name):\n    with open(os.path.join('demo', name), 'rb') as f: return f.read().decode('utf-8', 'replace')\n" + program);
        Assert.True(exit == 0, $"python exited {exit}: {stderr}\ndaemon log:\n{m.Log}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    [Fact]
    public void EchoRedirect_NewThenExistingThenAppend_CommitsWholeContent()
    {
        using var m = StartWithDemo();
        Assert.DoesNotContain("summary.md", ViewProbe.Ls(m, "demo"));

        m.Ok("echo 'first draft' > demo/summary.md");
        Assert.Equal("first draft\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("first draft\n", File.ReadAllText(Doc(m, "summary.md")));
        Assert.Contains("summary.md", ViewProbe.Ls(m, "demo"));

        m.Ok("echo 'second' > demo/summary.md");
        Assert.Equal("second\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("second\n", File.ReadAllText(Doc(m, "summary.md")));

        m.Ok("echo 'more' >> demo/summary.md");
        Assert.Equal("second\nmore\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("second\nmore\n", File.ReadAllText(Doc(m, "summary.md")));
        Assert.Equal("12", m.Ok("stat -c %s demo/summary.md").Trim());
        AssertNoStrays(m);
    }

    [Fact]
    public void SedInPlace_Summary_ReplacesContentWithoutStrayFiles()
    {
        using var m = StartWithDemo();
        m.Ok("printf 'alpha\\nbeta\\n' > demo/summary.md");
        Assert.Equal("alpha\nbeta\n", m.Ok("cat demo/summary.md"));

        m.Ok("sed -i 's/beta/gamma/' demo/summary.md");

        Assert.Equal("alpha\ngamma\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("alpha\ngamma\n", File.ReadAllText(Doc(m, "summary.md")));
        Assert.DoesNotContain(ViewProbe.Ls(m, "demo"), n => n.StartsWith("sed", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.GetFiles(m.StorePath("contexts", "demo")), f => Path.GetFileName(f).StartsWith("sed", StringComparison.Ordinal));
        AssertNoStrays(m);
    }

    [Theory]
    [InlineData("auto")]  // probes with 4913, then as "no"
    [InlineData("no")]    // rename the original away to summary.md~, write a new summary.md, unlink the backup
    [InlineData("yes")]   // copy a backup to summary.md~, overwrite summary.md in place
    public void VimSave_AppendLine_CommitsWithoutStrayFiles(string backupcopy)
    {
        using var m = StartWithDemo();
        m.Ok("printf 'alpha\\nbeta\\n' > demo/summary.md");

        // backupskip= : the default skips backups for files under /tmp, where the test mounts live.
        m.Ok($"vim --clean -i NONE -es -c 'set backupskip= backupcopy={backupcopy} writebackup swapfile' -c 'normal Gonew line' -c 'wq' demo/summary.md", 30);

        Assert.Equal("alpha\nbeta\nnew line\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("alpha\nbeta\nnew line\n", File.ReadAllText(Doc(m, "summary.md")));
        AssertNoStrays(m);
        Assert.DoesNotContain("refused", m.Log);
    }

    [Fact]
    public void ExScript_SubstituteInTodos_Commits()
    {
        using var m = StartWithDemo();
        m.Ok("printf 'alpha\\nbeta\\n' > demo/todos.md");

        m.Ok("printf '%s\\n' '1s/alpha/ALPHA/' 'wq' | ex -s demo/todos.md", 30);

        Assert.Equal("ALPHA\nbeta\n", m.Ok("cat demo/todos.md"));
        Assert.Equal("ALPHA\nbeta\n", File.ReadAllText(Doc(m, "todos.md")));
        AssertNoStrays(m);
    }

    [Fact]
    public void PythonWrite_BeforeAndAfterClose_OthersSeeOldThenNew()
    {
        using var m = StartWithDemo();
        m.Ok("echo old > demo/goals.md");

        var o = Observe(m, """
            obs = {}
            f = open('demo/goals.md', 'w')
            f.write('goal one\n'); f.flush()
            obs['mount_before_close'] = seen('goals.md')
            obs['store_before_close'] = stored('goals.md')
            obs['size_before_close'] = os.stat('demo/goals.md').st_size
            f.close()
            obs['mount_after_close'] = seen('goals.md')
            obs['store_after_close'] = stored('goals.md')
            g = open('demo/goals.md', 'r+')
            g.write('G'); g.flush()
            obs['mount_before_second_close'] = seen('goals.md')
            g.close()
            obs['mount_after_second_close'] = seen('goals.md')
            print(json.dumps(obs))
            """);

        Assert.Equal("old\n", o.GetProperty("mount_before_close").GetString());
        Assert.Equal("old\n", o.GetProperty("store_before_close").GetString());
        Assert.Equal(9, o.GetProperty("size_before_close").GetInt32());   // stat shows the staged copy (README: Decisions)
        Assert.Equal("goal one\n", o.GetProperty("mount_after_close").GetString());
        Assert.Equal("goal one\n", o.GetProperty("store_after_close").GetString());
        Assert.Equal("goal one\n", o.GetProperty("mount_before_second_close").GetString());
        Assert.Equal("Goal one\n", o.GetProperty("mount_after_second_close").GetString());
        Assert.Equal("Goal one\n", File.ReadAllText(Doc(m, "goals.md")));
        AssertNoStrays(m);
    }

    public static TheoryData<string, string?, string, string> InvalidContent => new()
    {
        { "demo/context_meta.json", "{\"system_prompt_md_mtime\": 1}", "not json", "context_meta.json" },
        { "demo/context_meta.json", "{\"a\": 1}", "[1, 2]", "context_meta.json" },
        { "state.json", null, "{\"contexts\": [", "state.json" },
        { "demo/local.toml", "[storage]\npartition_max_entries = 5\n", "[storage\npartition_max_entries = \n", "local.toml" },
        { "demo/summary.md", "fine\n", "caf\u00ff\u00fe\n", "summary.md" },   // \u00ff etc. are written as single raw bytes
        { "demo/context.jsonl", "{\"role\":\"user\"}\n", "{\"role\":\"user\"}\n[1, 2]\n", "context.jsonl" },
        { "demo/context.jsonl", "{\"role\":\"user\"}\n", "{\"role\":\"user\"}\n{\"role\":\n", "context.jsonl" },
    };

    [Theory]
    [MemberData(nameof(InvalidContent))]
    public void Close_InvalidContent_FailsEinvalKeepsOldAndQuarantines(string path, string? good, string bad, string file)
    {
        using var m = StartWithDemo();
        if (good is not null) m.Ok($"printf '%s' '{good.Replace("'", "'\\''", StringComparison.Ordinal)}' > {path}");
        string before = m.Ok($"cat {path}");
        if (good is not null) Assert.Equal(good, before);
        int quarantined = ViewProbe.QuarantineCount(m);
        byte[] badBytes = bad.Select(c => (byte)c).ToArray();   // Latin-1: \u00ff stays the byte 0xFF

        var (exit, stdout, stderr) = m.Python($"""
            f = open('{path}', 'wb')
            f.write(bytes.fromhex('{Convert.ToHexString(badBytes)}'))
            try:
                f.close()
                print('closed')
            except OSError as e:
                print(e.errno)
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal("22", stdout.Trim());
        Assert.Equal(before, m.Ok($"cat {path}"));
        string storePath = path == "state.json" ? m.StorePath("state.json") : m.StorePath("contexts", path);
        Assert.Equal(before, File.ReadAllText(storePath));
        Assert.Equal(quarantined + 1, ViewProbe.QuarantineCount(m));
        Assert.Equal(badBytes, ViewProbe.LastQuarantined(m));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused", StringComparison.Ordinal) && l.Contains(file, StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
        AssertNoStrays(m);
    }

    [Fact]
    public void Close_ValidJsonAndToml_Commit()
    {
        using var m = StartWithDemo();
        m.Ok("printf '{\"a\": 1}' > demo/context_meta.json");
        m.Ok("printf '[storage]\\npartition_max_entries = 5\\n' > demo/local.toml");
        m.Ok("printf '{\"role\":\"user\"}\\n\\n{\"role\":\"agent\"}\\n' > demo/context.jsonl");

        Assert.Equal("{\"a\": 1}", File.ReadAllText(Doc(m, "context_meta.json")));
        Assert.Equal("[storage]\npartition_max_entries = 5\n", File.ReadAllText(Doc(m, "local.toml")));
        Assert.Equal("{\"role\":\"user\"}\n\n{\"role\":\"agent\"}\n", m.Ok("cat demo/context.jsonl"));
        Assert.Contains("\"demo\"", m.Ok("cat state.json"));
        Assert.DoesNotContain("refused", m.Log);
    }

    [Fact]
    public void Reader_WhileWriterStaged_SeesOnlyCommittedContent()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'old content' > demo/summary.md");

        var o = Observe(m, """
            obs = {}
            r = open('demo/summary.md', 'rb')
            w = open('demo/summary.md', 'w')
            w.write('new content\n'); w.flush()
            obs['fresh_open'] = seen('summary.md')
            obs['size'] = os.stat('demo/summary.md').st_size
            obs['listing'] = os.listdir('demo')
            obs['store'] = stored('summary.md')
            views = set()
            for i in range(20):
                w.write('more %d\n' % i); w.flush()
                r.seek(0); views.add(r.read().decode())
                views.add(seen('summary.md'))
            obs['loop'] = sorted(views)
            w.close()
            obs['after_close'] = seen('summary.md')
            print(json.dumps(obs))
            """);

        Assert.Equal("old content\n", o.GetProperty("fresh_open").GetString());
        Assert.Equal(12, o.GetProperty("size").GetInt32());
        Assert.Equal("old content\n", o.GetProperty("store").GetString());
        Assert.Equal(["old content\n"], o.GetProperty("loop").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty(ViewProbe.StrayNames(o.GetProperty("listing").EnumerateArray().Select(e => e.GetString()!)));
        string expected = "new content\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"more {i}\n"));
        Assert.Equal(expected, o.GetProperty("after_close").GetString());
        Assert.Equal(expected, File.ReadAllText(Doc(m, "summary.md")));
        AssertNoStrays(m);
    }

    /// <summary>
    /// xfstests' fsx stops at start-up on a document ("no extend on truncate") when fstat after
    /// ftruncate reports the committed size: the kernel sends fstat's GETATTR without a handle.
    /// Stat by name shows the staged copy too, as an in-place write would natively; a reader
    /// opened before still reads the committed bytes whole.
    /// </summary>
    [Fact]
    public void Fstat_WritingHandleAfterFtruncateAndWrite_SeesStagedSize()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'old content' > demo/summary.md");

        var o = Observe(m, """
            obs = {}
            r = os.open('demo/summary.md', os.O_RDONLY)
            fd = os.open('demo/summary.md', os.O_RDWR)
            os.ftruncate(fd, 100000)
            obs['after_extend'] = os.fstat(fd).st_size
            obs['by_name'] = os.stat('demo/summary.md').st_size
            os.pwrite(fd, b'tail\n', 100000)
            obs['after_write'] = os.fstat(fd).st_size
            obs['seek_end'] = os.lseek(fd, 0, os.SEEK_END)
            os.ftruncate(fd, 7)
            obs['after_shrink'] = os.fstat(fd).st_size
            obs['reader'] = os.pread(r, 4096, 0).decode()
            obs['reader_fstat_seek_end'] = os.lseek(r, 0, os.SEEK_END)
            obs['store'] = stored('summary.md')
            os.close(fd)
            obs['after_close'] = os.stat('demo/summary.md').st_size
            obs['committed'] = seen('summary.md')
            os.close(r)
            print(json.dumps(obs))
            """);

        Assert.Equal(100000, o.GetProperty("after_extend").GetInt64());
        Assert.Equal(100000, o.GetProperty("by_name").GetInt64());
        Assert.Equal(100005, o.GetProperty("after_write").GetInt64());
        Assert.Equal(100005, o.GetProperty("seek_end").GetInt64());
        Assert.Equal(7, o.GetProperty("after_shrink").GetInt64());
        Assert.Equal("old content\n", o.GetProperty("reader").GetString());
        Assert.Equal(12, o.GetProperty("reader_fstat_seek_end").GetInt64());
        Assert.Equal("old content\n", o.GetProperty("store").GetString());
        Assert.Equal(7, o.GetProperty("after_close").GetInt64());
        Assert.Equal("old con", o.GetProperty("committed").GetString());
        AssertNoStrays(m);
    }

    [Fact]
    public void Read_AfterCommitOfSameSize_ServesNewBytesNotCache()
    {
        using var m = StartWithDemo();
        m.Ok("echo aaaa > demo/summary.md");
        Assert.Equal("aaaa\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("aaaa\n", m.Ok("cat demo/summary.md"));   // now in the page cache, if anything is

        var o = Observe(m, """
            r = open('demo/summary.md', 'rb'); first = r.read()
            with open('demo/summary.md', 'w') as w: w.write('bbbb\n')
            r2 = open('demo/summary.md', 'rb'); second = r2.read()
            print(json.dumps({'first': first.decode(), 'second': second.decode()}))
            """);

        Assert.Equal("aaaa\n", o.GetProperty("first").GetString());
        Assert.Equal("bbbb\n", o.GetProperty("second").GetString());
        Assert.Equal("bbbb\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("bbbb\n", File.ReadAllText(Doc(m, "summary.md")));
    }

    [Fact]
    public void Fsync_BeforeClose_CommitsForOtherProcesses()
    {
        using var m = StartWithDemo();
        m.Ok("echo old > demo/todos.md");

        var o = Observe(m, """
            import subprocess
            # The other process starts before the writer opens: a child forked later would inherit
            # the writer's descriptor, and its close at exec is a flush, which commits.
            reader = subprocess.Popen([sys.executable, '-c', 'import sys, json\nfor _ in sys.stdin: print(json.dumps(open("demo/todos.md").read()), flush=True)'],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            def other():
                reader.stdin.write('\n'); reader.stdin.flush()
                return json.loads(reader.stdout.readline())
            obs = {}
            w = open('demo/todos.md', 'w')
            w.write('synced\n'); w.flush()
            obs['before_fsync'] = other()
            os.fsync(w.fileno())
            obs['after_fsync'] = other()
            obs['store_after_fsync'] = stored('todos.md')
            w.write('tail\n'); w.flush()
            obs['after_second_write'] = other()
            w.close()
            obs['after_close'] = other()
            reader.stdin.close(); reader.wait(20)
            print(json.dumps(obs))
            """);

        Assert.Equal("old\n", o.GetProperty("before_fsync").GetString());
        Assert.Equal("synced\n", o.GetProperty("after_fsync").GetString());
        Assert.Equal("synced\n", o.GetProperty("store_after_fsync").GetString());
        Assert.Equal("synced\n", o.GetProperty("after_second_write").GetString());
        Assert.Equal("synced\ntail\n", o.GetProperty("after_close").GetString());
        AssertNoStrays(m);
    }

    [Fact]
    public void RenameScratchOverDocument_Valid_CommitsContent()
    {
        using var m = StartWithDemo();
        m.Ok("echo old > demo/summary.md && echo renamed > demo/draft.txt");
        Assert.Contains("draft.txt", ViewProbe.Ls(m, "demo"));

        m.Ok("mv demo/draft.txt demo/summary.md");

        Assert.Equal("renamed\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("renamed\n", File.ReadAllText(Doc(m, "summary.md")));
        Assert.DoesNotContain("draft.txt", ViewProbe.Ls(m, "demo"));
        Assert.False(File.Exists(Doc(m, "draft.txt")));
        AssertNoStrays(m);
    }

    [Fact]
    public void RenameScratchOverDocument_InvalidJson_FailsEinvalScratchStays()
    {
        using var m = StartWithDemo();
        m.Ok("printf '{\"a\": 1}' > demo/context_meta.json && printf 'not json' > demo/meta.draft");

        int errno = ViewProbe.Errno(m, "os.rename('demo/meta.draft', 'demo/context_meta.json')");

        Assert.Equal(22, errno);
        Assert.Equal("{\"a\": 1}", m.Ok("cat demo/context_meta.json"));
        Assert.Equal("{\"a\": 1}", File.ReadAllText(Doc(m, "context_meta.json")));
        Assert.Equal("not json", m.Ok("cat demo/meta.draft"));
        Assert.Contains("meta.draft", ViewProbe.Ls(m, "demo"));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/context_meta.json", StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
    }

    [Fact]
    public void UnlinkAndRenameAway_Documents_Allowed()
    {
        using var m = StartWithDemo();
        m.Ok("echo s > demo/summary.md && echo t > demo/todos.md");

        m.Ok("rm demo/summary.md");
        Assert.DoesNotContain("summary.md", ViewProbe.Ls(m, "demo"));
        Assert.NotEqual(0, m.Sh("cat demo/summary.md").Exit);
        Assert.False(File.Exists(Doc(m, "summary.md")));

        m.Ok("mv demo/todos.md demo/todos.bak");
        var names = ViewProbe.Ls(m, "demo");
        Assert.DoesNotContain("todos.md", names);
        Assert.Contains("todos.bak", names);
        Assert.Equal("t\n", m.Ok("cat demo/todos.bak"));
        Assert.Equal("t\n", File.ReadAllText(Doc(m, "todos.bak")));
        Assert.False(File.Exists(Doc(m, "todos.md")));
    }

    [Fact]
    public void TwoWriters_OneDocument_LastCommitWinsWhole()
    {
        using var m = StartWithDemo();
        m.Ok("echo start > demo/summary.md");

        var o = Observe(m, """
            obs = {}
            a = open('demo/summary.md', 'w')
            b = open('demo/summary.md', 'w')
            a.write('A' * 100 + '\n'); a.flush()
            b.write('b\n'); b.flush()
            obs['before'] = seen('summary.md')
            a.close()
            obs['after_a'] = seen('summary.md')
            b.close()
            obs['after_b'] = seen('summary.md')
            print(json.dumps(obs))
            """);

        Assert.Equal("start\n", o.GetProperty("before").GetString());
        Assert.Equal(new string('A', 100) + "\n", o.GetProperty("after_a").GetString());
        Assert.Equal("b\n", o.GetProperty("after_b").GetString());
        Assert.Equal("b\n", File.ReadAllText(Doc(m, "summary.md")));
        AssertNoStrays(m);
    }

    [Fact]
    public void Truncate_DocumentByName_CommitsAtOnce()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'hello world' > demo/summary.md");

        m.Ok("truncate -s 5 demo/summary.md");

        Assert.Equal("hello", m.Ok("cat demo/summary.md"));
        Assert.Equal("hello", Encoding.UTF8.GetString(File.ReadAllBytes(Doc(m, "summary.md"))));
        AssertNoStrays(m);
    }

    /// <summary>
    /// `: > doc` opens with O_TRUNC and never writes: its commit waits for RELEASE, which the
    /// kernel sends after close(2) returned. The next command's commit must still win.
    /// </summary>
    [Fact]
    public void TruncateOnlyThenRedirect_Repeated_LaterWriteAlwaysWins()
    {
        using var m = StartWithDemo();
        m.Ok("echo start > demo/summary.md");

        string lost = m.Ok("""
            for i in $(seq 1 40); do
              : > demo/summary.md
              echo "filled $i" > demo/summary.md
              sleep 0.03
              c=$(cat demo/summary.md)
              [ "$c" = "filled $i" ] || echo "round $i saw '$c'"
            done
            """, 60);

        Assert.Equal("", lost);
        Assert.Equal("filled 40\n", File.ReadAllText(Doc(m, "summary.md")));
    }

    [Fact]
    public void TruncateOnly_HeldDescriptorAcrossOtherCommitAndUnlink_DoesNotResurrect()
    {
        using var m = StartWithDemo();
        m.Ok("echo start > demo/summary.md && echo start > demo/todos.md");

        m.Ok("exec 3> demo/summary.md; echo later > demo/summary.md; exec 3>&-");
        m.Ok(": > demo/todos.md; rm demo/todos.md");
        Thread.Sleep(300);   // let any RELEASE arrive

        Assert.Equal("later\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("later\n", File.ReadAllText(Doc(m, "summary.md")));
        Assert.DoesNotContain("todos.md", ViewProbe.Ls(m, "demo"));
        Assert.False(File.Exists(Doc(m, "todos.md")));
    }

    [Fact]
    public void TruncateOnly_ExistingSummary_EmptiesWithinASecond()
    {
        using var m = StartWithDemo();
        m.Ok("echo start > demo/summary.md");

        m.Ok(": > demo/summary.md");

        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1), () => File.ReadAllText(Doc(m, "summary.md")) == ""), "the truncation was not committed");
        Assert.Equal("", m.Ok("cat demo/summary.md"));
    }

    [Fact]
    public void CpPreserveAndInstallAndTouch_NewDocuments_KeepModeAndTimes()
    {
        using var m = StartWithDemo();
        string src = Path.Combine(m.Root, "src.txt");
        File.WriteAllText(src, "from outside\n");
        Shell.Run("touch", ["-d", "2001-02-03 04:05:06 UTC", src], "/", 10);
        Shell.Run("chmod", ["604", src], "/", 10);

        m.Ok($"cp -p {src} demo/goals.md");
        Assert.Equal("from outside\n", m.Ok("cat demo/goals.md"));
        Assert.Equal("981173106 604", m.Ok("stat -c '%Y %a' demo/goals.md").Trim());

        m.Ok($"install -m 600 {src} demo/system_prompt.md");
        Assert.Equal("600", m.Ok("stat -c %a demo/system_prompt.md").Trim());
        Assert.Equal("600", Shell.Run("stat", ["-c", "%a", Doc(m, "system_prompt.md")], "/", 10).Out.Trim());

        m.Ok("echo old > demo/reflection.md && chmod 640 demo/reflection.md");
        m.Ok($"cp -p {src} demo/reflection.md");   // existing: O_TRUNC, write, fchmod, futimens, close
        Assert.Equal("from outside\n", File.ReadAllText(Doc(m, "reflection.md")));
        Assert.Equal("981173106 604", m.Ok("stat -c '%Y %a' demo/reflection.md").Trim());

        m.Ok("touch demo/context.jsonl");
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(1), () => File.Exists(Doc(m, "context.jsonl"))), "touch did not create the document");
        Assert.Equal("0", m.Ok("stat -c %s demo/context.jsonl").Trim());
        m.Ok("touch -d '2002-01-01 00:00:00 UTC' demo/context.jsonl");
        Assert.Equal("1009843200", m.Ok("stat -c %Y demo/context.jsonl").Trim());
        Assert.DoesNotContain("refused", m.Log);
        AssertNoStrays(m);
    }

    [Fact]
    public void StateJson_FreshStore_ListedReadsEmptyAcceptsWrite()
    {
        using var m = MountedStore.Start();
        Assert.False(File.Exists(m.StorePath("state.json")));
        Assert.Contains("state.json", ViewProbe.Ls(m, "."));

        Assert.Equal("", m.Ok("cat state.json"));

        m.Ok("printf '{\"contexts\": [], \"current_context\": \"default\", \"previous_context\": null}' > state.json");
        Assert.Equal("{\"contexts\": [], \"current_context\": \"default\", \"previous_context\": null}", File.ReadAllText(m.StorePath("state.json")));
        m.Ok("mkdir demo");
        Assert.Equal(["demo"], ViewProbe.StateNames(m.Ok("cat state.json")));
    }

    [Fact]
    public void RenameScratchOverDocument_OverLimit_FailsEfbig()
    {
        using var m = StartWithDemo();
        m.Ok("echo kept > demo/summary.md && truncate -s $(( (1 << 30) + 1 )) demo/big.md");

        Assert.Equal(27, ViewProbe.Errno(m, "os.rename('demo/big.md', 'demo/summary.md')"));

        Assert.Equal("kept\n", m.Ok("cat demo/summary.md"));
        Assert.Equal((1L << 30) + 1, new FileInfo(Doc(m, "big.md")).Length);
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/summary.md", StringComparison.Ordinal) && l.Contains("EFBIG", StringComparison.Ordinal));
    }

    [Fact]
    public void Mmap_SharedWritableDocument_RefusedEnodevPrivateReadWorks()
    {
        using var m = StartWithDemo();
        m.Ok("echo 'mapped text' > demo/summary.md");

        var (exit, stdout, stderr) = m.Python("""
            import mmap
            out = []
            with open('demo/summary.md', 'rb') as f:
                mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                out.append(mm[:6].decode()); mm.close()
            with open('demo/summary.md', 'r+b') as f:
                try:
                    mmap.mmap(f.fileno(), 0); out.append('mapped')
                except OSError as e:
                    out.append(e.errno)
            print(json.dumps(out))
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal("[\"mapped\", 19]", stdout.Trim());
        Assert.Equal("mapped text\n", File.ReadAllText(Doc(m, "summary.md")));
    }
}

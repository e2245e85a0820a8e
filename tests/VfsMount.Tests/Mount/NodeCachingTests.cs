using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// The host on nodes (SPEC §2.2 "Identity", §2.6): the kernel caches names, attributes and
/// pages, every change made through the mount is invalidated before its reply, changes made
/// in the store by others show within a second, and a commit gives a document a new node.
/// </summary>
[Collection("Mount")]
public sealed class NodeCachingTests
{
    private static MountedStore StartWithDemo()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir demo");
        return m;
    }

    private static string Ctx(MountedStore m, params string[] parts) => m.StorePath(["contexts", "demo", .. parts]);

    private static JsonElement Python(MountedStore m, string program)
    {
        var (exit, stdout, stderr) = m.Python("import os, json, time\n" + program);
        Assert.True(exit == 0, $"python exited {exit}: {stderr}\ndaemon log:\n{m.Log}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    [Fact]
    public void Reader_StraddlingACommit_ReadsOnlyOldBytes_AndANewOpenReadsOnlyNew()
    {
        using var m = StartWithDemo();
        m.Ok("python3 -c \"print('old.' * 50000, end='')\" > demo/summary.md");

        var o = Python(m, """
            r = open('demo/summary.md', 'rb')
            first = r.read(4096)
            with open('demo/summary.md', 'w') as w:
                w.write('new!' * 60000)
            rest = r.read()
            r.close()
            with open('demo/summary.md', 'rb') as f:
                fresh = f.read()
            print(json.dumps({'old_whole': (first + rest) == b'old.' * 50000,
                              'fresh_new': fresh == b'new!' * 60000}))
            """);

        Assert.True(o.GetProperty("old_whole").GetBoolean(), "the reader opened before the commit saw new bytes");
        Assert.True(o.GetProperty("fresh_new").GetBoolean(), "an open after the commit did not read the new bytes");
        Assert.Equal("new!" + "new!", File.ReadAllText(Ctx(m, "summary.md"))[..8]);
    }

    [Fact]
    public void Commit_GivesTheDocumentANewInode_AndStatSeesTheNewSizeAtOnce()
    {
        using var m = StartWithDemo();
        m.Ok("echo one > demo/goals.md");
        string before = m.Ok("stat -c '%i %s' demo/goals.md").Trim();
        m.Ok("echo three-three > demo/goals.md");
        string after = m.Ok("stat -c '%i %s' demo/goals.md").Trim();

        Assert.NotEqual(before.Split(' ')[0], after.Split(' ')[0]);
        Assert.Equal("12", after.Split(' ')[1]);
        Assert.Equal("three-three\n", m.Ok("cat demo/goals.md"));
    }

    [Fact]
    public void TemporaryFile_InAScratchDirectory_FstatAndReadBack()
    {
        using var m = StartWithDemo();
        var o = Python(m, """
            import tempfile
            os.mkdir('demo/tmp')
            with tempfile.TemporaryFile(dir='demo/tmp') as f:
                f.write(b'hello'); f.flush()
                size = os.fstat(f.fileno()).st_size
                f.seek(0)
                data = f.read().decode()
            print(json.dumps({'size': size, 'data': data, 'left': os.listdir('demo/tmp')}))
            """);

        Assert.Equal(5, o.GetProperty("size").GetInt32());
        Assert.Equal("hello", o.GetProperty("data").GetString());
        Assert.Equal(0, o.GetProperty("left").GetArrayLength());
    }

    [Fact]
    public void ContextCreatedThroughTheMount_StateJsonShowsItAtOnce()
    {
        using var m = StartWithDemo();
        Assert.DoesNotContain("\"beta\"", m.Ok("cat state.json"));   // cached: pages and attributes
        m.Ok("mkdir beta");
        Assert.Contains("\"beta\"", m.Ok("cat state.json"));
        m.Ok("rmdir beta");
        Assert.DoesNotContain("\"beta\"", m.Ok("cat state.json"));
    }

    [Fact]
    public void Listing_OfTwoThousandNames_WithAndWithoutAttributes_ShowsThemAll()
    {
        using var m = StartWithDemo();
        // The first buffer comes as READDIRPLUS, the rest as plain READDIR (READDIRPLUS_AUTO):
        // a plain entry with d_ino 0 is skipped by glibc as deleted.
        var o = Python(m, """
            import glob
            os.mkdir('demo/many')
            for i in range(2000):
                open(f'demo/many/f{i:04d}', 'w').close()
            print(json.dumps({'listdir': len(os.listdir('demo/many')), 'glob': len(glob.glob('demo/many/f*')),
                              'scandir_ino0': sum(1 for e in os.scandir('demo/many') if e.inode() == 0)}))
            """);

        Assert.Equal(2000, o.GetProperty("listdir").GetInt32());
        Assert.Equal(2000, o.GetProperty("glob").GetInt32());
        Assert.Equal(0, o.GetProperty("scandir_ino0").GetInt32());
        Assert.Equal("2000", m.Ok("ls -f demo/many | grep -c '^f'").Trim());
        Assert.Equal("2001", m.Ok("ls -l demo/many | wc -l").Trim());
        m.Ok("rm -r demo/many");
        Assert.False(Directory.Exists(Ctx(m, "many")));
    }

    [Fact]
    public void LogHandle_OpenAcrossAContextRename_AppendsOnceOrFailsCleanly_AndNeverRecreatesTheOldContext()
    {
        using var m = StartWithDemo();
        var o = Python(m, """
            fd = os.open('demo/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            os.rename('demo', 'moved')
            try:
                os.write(fd, b'{"content":"after rename"}\n'); r = 0
            except OSError as e:
                r = e.errno
            os.close(fd)
            print(json.dumps({'r': r, 'old': os.path.exists('demo')}))
            """);

        int appended = m.Ok("cat moved/transcript.jsonl").Split('\n').Count(l => l.Contains("after rename"));
        Assert.False(o.GetProperty("old").GetBoolean(), "the old context shows again through the mount");
        Assert.False(Directory.Exists(m.StorePath("contexts", "demo")), "the old context was recreated in the store");
        if (o.GetProperty("r").GetInt32() == 0) Assert.Equal(1, appended);
        else
        {
            Assert.Equal(2, o.GetProperty("r").GetInt32());   // ENOENT, nothing appended
            Assert.Equal(0, appended);
        }
    }

    [Fact]
    public void RenamedContext_ItsCachedLogsStayItsOwn_WhenANewContextTakesTheOldName()
    {
        using var m = StartWithDemo();
        m.Ok("cat demo/inbox.jsonl demo/transcript.jsonl >/dev/null");   // the kernel now caches their nodes
        m.Ok("mv demo other && mkdir demo && ls -l demo >/dev/null");
        m.Ok("echo '{\"content\":\"for other\"}' >> other/inbox.jsonl");

        Assert.Contains("for other", File.ReadAllText(m.StorePath("contexts", "other", "inbox.jsonl")));
        string fresh = m.StorePath("contexts", "demo", "inbox.jsonl");
        Assert.False(File.Exists(fresh) && File.ReadAllText(fresh).Contains("for other"), "the append went to the new context");
        Assert.DoesNotContain("for other", m.Ok("cat demo/inbox.jsonl"));
    }

    [Fact]
    public void ChangesInTheStoreByOthers_ShowThroughTheMountWithinOneSecond()
    {
        using var m = StartWithDemo();
        m.Ok("echo mine > demo/summary.md && echo x > demo/notes.txt");
        // Prime every cache: names, attributes, pages.
        m.Ok("ls -lR . >/dev/null && cat demo/summary.md demo/notes.txt demo/transcript.jsonl >/dev/null");

        string summary = Ctx(m, "summary.md");
        File.WriteAllText(Ctx(m, "summary.tmp.1"), "theirs\n");
        File.Move(Ctx(m, "summary.tmp.1"), summary, overwrite: true);   // chibi's atomic replace
        File.WriteAllText(Ctx(m, "notes.txt"), "changed in place\n");
        Directory.CreateDirectory(m.StorePath("contexts", "other"));
        var line = """{"id":"7b1c8d8e-4a4c-4a8e-9c1e-1d2f3a4b5c6d","timestamp":1,"from":"them","to":"demo","content":"by chibi","entry_type":"message"}""";
        File.AppendAllText(Ctx(m, "transcript", "active.jsonl"), line + "\n");

        var o = Python(m, """
            start = time.monotonic()
            seen = {}
            while time.monotonic() - start < 3 and len(seen) < 5:
                t = round(time.monotonic() - start, 3)
                if 'size' not in seen and os.stat('demo/summary.md').st_size == 7: seen['size'] = t
                if 'size' in seen and 'summary' not in seen and open('demo/summary.md').read() == 'theirs\n': seen['summary'] = t
                if 'notes' not in seen and open('demo/notes.txt').read() == 'changed in place\n': seen['notes'] = t
                if 'context' not in seen and 'other' in os.listdir('.'): seen['context'] = t
                if 'entry' not in seen and b'by chibi' in open('demo/transcript.jsonl', 'rb').read(): seen['entry'] = t
                time.sleep(0.02)
            print(json.dumps(seen))
            """);

        foreach (string what in new[] { "summary", "size", "notes", "context", "entry" })
        {
            Assert.True(o.TryGetProperty(what, out var t), $"{what}: never seen through the mount ({o})");
            Assert.True(t.GetDouble() <= 1.2, $"{what}: seen after {t.GetDouble()} s ({o})");
        }
        // The cached size of a document replaced underneath is dropped when the store says so
        // (inotify), not when its 1 s attribute timeout runs out.
        Assert.True(o.GetProperty("size").GetDouble() < 0.5, $"the replaced document's size was served from the cache ({o})");
    }
}

using System.Text.Json.Nodes;
using VfsMount.Tests.Store;

namespace VfsMount.Tests.Mount;

/// <summary>
/// The stores people run (STORE-FORMAT.md "Legacy and chibi 0.10"), through the kernel: chibi
/// 0.10's session.json and vfs/, its registry cwd and prompt_count, and legacy transcripts —
/// and on every layout, every file the mount wrote is one that chibi of that layout reads.
/// </summary>
[Collection("Mount")]
public sealed class ChibiLayoutTests
{
    public static TheoryData<ChibiLayout> Layouts => ChibiFixtures.All;

    private static MountedStore Start(ChibiLayout layout, string args = "") =>
        MountedStore.Start(args, s => ChibiFixtures.Create(s, layout));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Session_OnEveryLayout_EveryFileTheMountWroteIsChibiReadable(ChibiLayout layout)
    {
        using var m = Start(layout, "--partition-max-entries 4");
        m.Ok("mkdir plans && echo '{\"content\":\"draft\"}' >> plans/transcript.jsonl");
        for (int i = 0; i < 5; i++)
            m.Ok($"echo '{{\"content\":\"q{i}\"}}' >> work/transcript.jsonl && echo '{{\"from\":\"work\",\"to\":\"user\",\"content\":\"a{i}\"}}' >> work/transcript.jsonl");
        m.Ok("echo '{\"content\":\"ping\"}' >> work/inbox.jsonl && echo '# new' > work/summary.md && printf '{\"k\":1}' > work/context_meta.json");
        m.Ok("mv plans drafts && printf '%s\\n' '{\"role\":\"user\"}' > drafts/context.jsonl");

        Assert.NotEmpty(Directory.GetFiles(m.StorePath("contexts", "work", "transcript", "partitions"), "*.jsonl"));
        ChibiRules.AssertReadable(m.Store, layout);
        var records = JsonNode.Parse(File.ReadAllText(m.StorePath("state.json")))!["contexts"]!.AsArray().Select(r => r!["name"]!.GetValue<string>());
        Assert.Equal(["work", "drafts"], records);
        // The transcript reads the same through the mount as chibi reads it from the store.
        Assert.Equal(ChibiRules.TranscriptLines(m.StorePath("contexts", "work")), LogView.CatLines(m, "work/transcript.jsonl"));
    }

    [Fact]
    public void Chibi010_SessionJson_ListedReadCommittedAndRefusedWhenInvalid()
    {
        using var m = Start(ChibiLayout.V010);
        Assert.Contains("session.json", ViewProbe.Ls(m, "."));
        Assert.Equal(File.ReadAllText(m.StorePath("session.json")), m.Ok("cat session.json"));

        m.Ok("printf '{\"implied_context\":\"work\",\"previous_context\":\"old\"}' > session.json");
        Assert.Equal("{\"implied_context\":\"work\",\"previous_context\":\"old\"}", File.ReadAllText(m.StorePath("session.json")));
        var (exit, _, err) = m.Sh("printf '{broken' > session.json");
        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", err, StringComparison.Ordinal);
        Assert.Equal("{\"implied_context\":\"work\",\"previous_context\":\"old\"}", File.ReadAllText(m.StorePath("session.json")));
    }

    [Fact]
    public void Chibi010_RenameContext_SessionFollowsIt()
    {
        using var m = Start(ChibiLayout.V010);
        m.Ok("mv work desk");
        var session = JsonNode.Parse(File.ReadAllText(m.StorePath("session.json")))!;
        Assert.Equal("desk", session["implied_context"]!.GetValue<string>());
        Assert.Null(session["previous_context"]);
        ChibiRules.AssertReadable(m.Store, ChibiLayout.V010);
    }

    [Fact]
    public void Chibi05_NoSessionJsonNorVfs_NeitherShownNorCreatable()
    {
        using var m = Start(ChibiLayout.V05);
        var names = ViewProbe.Ls(m, ".");
        Assert.DoesNotContain("session.json", names);
        Assert.DoesNotContain(".vfs", names);
        Assert.Equal(2, ViewProbe.Errno(m, "open('session.json')"));
        Assert.Equal(2, ViewProbe.Errno(m, "open('session.json', 'w')"));   // as any name at the top that is no context
        Assert.Equal(2, ViewProbe.Errno(m, "os.listdir('.vfs')"));
        Assert.False(File.Exists(m.StorePath("session.json")));
    }

    [Fact]
    public void Chibi010_Vfs_ReadSedVimCommittedAtomicallyRefusedWhenInvalid()
    {
        using var m = Start(ChibiLayout.V010);
        Assert.Equal("flocks\nhome\nsite\n", m.Ok("ls .vfs"));
        Assert.Equal("Review the budget\n", m.Ok("cat .vfs/home/work/tasks/budget.task"));

        string goals = m.StorePath("vfs", "site", "goals.md");
        ulong inode = Inode(goals);
        m.Ok("sed -i 's/tidy/clean/' .vfs/site/goals.md");
        Assert.Equal("Keep the site clean.\n", File.ReadAllText(goals));
        Assert.NotEqual(inode, Inode(goals));   // replaced by rename, never rewritten in place

        m.Ok("vim --clean -i NONE -es -c 'set backupskip=' -c '%s/\"work\"/\"work\", \"drafts\"/' -c 'wq' .vfs/flocks/registry.json", 30);
        var registry = JsonNode.Parse(File.ReadAllText(m.StorePath("vfs", "flocks", "registry.json")))!;
        Assert.Equal(["work", "drafts"], registry["flocks"]!["team"]!.AsArray().Select(n => n!.GetValue<string>()));

        var (exit, _, err) = m.Sh("printf '{\"flocks\": oops' > .vfs/flocks/registry.json");
        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", err, StringComparison.Ordinal);
        Assert.Equal(registry.ToJsonString(), JsonNode.Parse(File.ReadAllText(m.StorePath("vfs", "flocks", "registry.json")))!.ToJsonString());
        (exit, _, err) = m.Sh("printf 'a\\xffb' > .vfs/site/prompt.md");
        Assert.NotEqual(0, exit);
        Assert.Equal("Be brief.\n", File.ReadAllText(m.StorePath("vfs", "site", "prompt.md")));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused .vfs/flocks/registry.json", StringComparison.Ordinal));

        m.Ok("mkdir -p .vfs/home/work/tasks/later && echo 'call the bank' > .vfs/home/work/tasks/later/bank.task && rm .vfs/home/work/tasks/budget.task");
        Assert.Equal("call the bank\n", File.ReadAllText(m.StorePath("vfs", "home", "work", "tasks", "later", "bank.task")));
        Assert.False(File.Exists(m.StorePath("vfs", "home", "work", "tasks", "budget.task")));
        foreach (var dir in Directory.GetDirectories(m.StorePath("vfs"), "*", SearchOption.AllDirectories))
            Assert.Empty(ViewProbe.StrayFiles(dir));
    }

    [Theory]
    [InlineData(ChibiLayout.V010, true)]
    [InlineData(ChibiLayout.V05, false)]
    public void MkdirContext_RecordsCallersCwdWhereChibiDoes(ChibiLayout layout, bool recorded)
    {
        using var m = Start(layout);
        string cwd = Directory.CreateDirectory(Path.Combine(m.Root, "project")).FullName;
        var (exit, _, err) = Shell.Run("mkdir", [Path.Combine(m.Mnt, "fresh")], cwd, 30);
        Assert.True(exit == 0, err);
        var record = JsonNode.Parse(File.ReadAllText(m.StorePath("state.json")))!["contexts"]!.AsArray().Single(r => r!["name"]!.GetValue<string>() == "fresh")!.AsObject();
        Assert.Equal(recorded ? cwd : null, record["cwd"]?.GetValue<string>());
        Assert.Equal(recorded, record.ContainsKey("cwd"));
        ChibiRules.AssertReadable(m.Store, layout);
    }

    [Theory]
    [InlineData(ChibiLayout.V010, true)]
    [InlineData(ChibiLayout.V05, false)]
    public void Rotation_WritesPromptCountOnChibi010Only(ChibiLayout layout, bool counted)
    {
        using var m = Start(layout, "--partition-max-entries 3");
        m.Ok("mkdir fresh");   // anchor, then a user prompt and an agent reply: a partition of 3
        m.Ok("echo '{\"content\":\"hi\"}' >> fresh/transcript.jsonl && echo '{\"from\":\"fresh\",\"to\":\"user\",\"content\":\"hello\"}' >> fresh/transcript.jsonl");
        var partition = Disk.Manifest(m.StorePath("contexts", "fresh", "transcript"))["partitions"]!.AsArray().Single()!.AsObject();
        Assert.Equal(counted, partition.ContainsKey("prompt_count"));
        if (counted)
        {
            Assert.Equal(1, partition["prompt_count"]!.GetValue<long>());
            Assert.Equal(["file", "start_ts", "end_ts", "entry_count", "prompt_count"], partition.Select(kv => kv.Key).Take(5));
        }
        ChibiRules.AssertReadable(m.Store, layout);
    }

    [Fact]
    public void Legacy_ReadAsTranscript_ThenMigratedAtFirstAppend_WithChibiWritersAtOnce()
    {
        using var m = Start(ChibiLayout.Legacy);
        string ctx = m.StorePath("contexts", ChibiFixtures.Context);
        string legacy = Path.Combine(ctx, "transcript.jsonl");
        Assert.Equal(File.ReadAllText(legacy), m.Ok("cat work/transcript.jsonl"));
        Assert.Equal(new FileInfo(legacy).Length.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Ok("stat -c %s work/transcript.jsonl").Trim());
        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('work')"));   // ENOTEMPTY: its history is in the legacy file

        // Two chibi-like writers (each migrates as chibi does on its next append) and the mount, at once.
        const int each = 40;
        using var chibi1 = LegacyChibiWriter(m, "c1", each);
        using var chibi2 = LegacyChibiWriter(m, "c2", each);
        for (int i = 0; i < each; i++) m.Ok($"echo '{{\"content\":\"m-{i}\"}}' >> work/transcript.jsonl");
        foreach (var chibi in (Background[])[chibi1, chibi2])
        {
            Assert.True(chibi.Exited(TimeSpan.FromSeconds(60)), "a chibi-like writer did not finish");
            Assert.True(chibi.Out.Trim() == $"{each}", chibi.Err);
        }

        Assert.False(File.Exists(legacy));
        var lines = ChibiRules.TranscriptLines(ctx);
        Assert.Equal(LogView.CatLines(m, "work/transcript.jsonl"), lines);
        var contents = LogView.Contents(lines);
        Assert.Equal(ChibiFixtures.Entries(ChibiLayout.Legacy).Select(l => LogView.Contents([l])[0]), contents.Take(3));
        foreach (var prefix in (string[])["c1", "c2", "m"])
            Assert.Equal(Enumerable.Range(0, each).Select(i => $"{prefix}-{i}"), contents.Where(c => c.StartsWith(prefix + "-", StringComparison.Ordinal)));
        ChibiRules.AssertReadable(m.Store, ChibiLayout.Legacy);
    }

    /// <summary>chibi's append on a legacy context: create transcript/, lock, migrate if the plain file is still there, append, fsync.</summary>
    private static Background LegacyChibiWriter(MountedStore m, string prefix, int lines) =>
        new("python3", ["-c", $$"""
            import os, json, time, fcntl, uuid
            ctx = {{System.Text.Json.JsonSerializer.Serialize(m.StorePath("contexts", ChibiFixtures.Context))}}
            d = os.path.join(ctx, 'transcript')
            for i in range({{lines}}):
                os.makedirs(d, exist_ok=True)
                lock = os.open(os.path.join(d, '.transcript.lock'), os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(lock, fcntl.LOCK_EX)
                legacy, active = os.path.join(ctx, 'transcript.jsonl'), os.path.join(d, 'active.jsonl')
                if os.path.exists(legacy) and not os.path.exists(active):
                    os.rename(legacy, active)
                fd = os.open(active, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                entry = {'id': str(uuid.uuid4()), 'timestamp': int(time.time()), 'from': 'bob', 'to': 'work',
                         'content': '{{prefix}}-%d' % i, 'entry_type': 'message'}
                os.write(fd, json.dumps(entry, separators=(',', ':')).encode())
                os.write(fd, b'\n')
                os.fsync(fd)
                os.close(fd)
                fcntl.flock(lock, fcntl.LOCK_UN)
                os.close(lock)
            print({{lines}})
            """], m.Mnt);

    private static ulong Inode(string path) =>
        VfsMount.Store.Posix.FileStatus.Lstat(path, out var st) == 0 ? st.Inode : 0;
}

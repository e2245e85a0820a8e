using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1: a write to a log appends validated, completed lines — through the kernel, with
/// echo, printf and python. Each test checks what a reader sees before and after the write.
/// </summary>
[Collection("Mount")]
public sealed class LogAppendTests
{
    [Fact]
    public void EchoAppend_Transcript_CompletesMissingFieldsAndKeepsUnknownOnes()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        string user = LogView.LoginName(m);
        var before = LogView.CatLines(m, "c/transcript.jsonl");
        Assert.Single(before);   // the context_created anchor

        ulong t0 = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        m.Ok("echo '{\"content\":\"hello\",\"mood\":{\"x\":[1,2]},\"tool_call_id\":\"t1\"}' >> c/transcript.jsonl");
        ulong t1 = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var after = LogView.CatLines(m, "c/transcript.jsonl");
        Assert.Equal(2, after.Length);
        Assert.Equal(before[0], after[0]);
        using var doc = JsonDocument.Parse(after[1]);
        var e = doc.RootElement;
        Assert.Equal(["id", "timestamp", "from", "to", "content", "entry_type", "role", "mood", "tool_call_id"], e.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _), after[1]);
        Assert.InRange(e.GetProperty("timestamp").GetUInt64(), t0, t1);
        Assert.Equal(user, e.GetProperty("from").GetString());
        Assert.Equal("c", e.GetProperty("to").GetString());
        Assert.Equal("hello", e.GetProperty("content").GetString());
        Assert.Equal("message", e.GetProperty("entry_type").GetString());
        Assert.Equal("user", e.GetProperty("role").GetString());
        Assert.Equal("{\"x\":[1,2]}", e.GetProperty("mood").GetRawText());
        Assert.Equal("t1", e.GetProperty("tool_call_id").GetString());
        // The stored line is the entry as compact JSON, and the view shows the store's bytes.
        Assert.Equal(string.Join('\n', after) + "\n", Encoding.UTF8.GetString(LogView.StoreBytes(m, "contexts", "c", "transcript", "active.jsonl")));
    }

    [Fact]
    public void EchoAppend_TranscriptWithAllFields_KeepsThemAsGiven()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        const string line = "{\"id\":\"11111111-2222-4333-8444-555555555555\",\"timestamp\":1700000000,\"from\":\"c\",\"to\":\"user\",\"content\":\"reply\",\"entry_type\":\"message\"}";

        m.Ok($"echo '{line}' >> c/transcript.jsonl");

        var after = LogView.CatLines(m, "c/transcript.jsonl");
        Assert.Equal(2, after.Length);
        // Only the role chibi 0.10 would read it by is added (SPEC §2.1): a message to "user" is the agent's.
        Assert.Equal(line[..^1] + ",\"role\":\"agent\"}", after[1]);
    }

    [Fact]
    public void EchoAppend_Inbox_CompletesFieldsWithoutEntryType()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        string user = LogView.LoginName(m);
        Assert.Equal("", m.Ok("cat c/inbox.jsonl"));

        m.Ok("echo '{\"content\":\"ping\",\"extra\":true}' >> c/inbox.jsonl");

        var after = LogView.CatLines(m, "c/inbox.jsonl");
        var e = Assert.Single(after.Select(l => JsonDocument.Parse(l).RootElement));
        Assert.Equal(["id", "timestamp", "from", "to", "content", "extra"], e.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.True(Guid.TryParse(e.GetProperty("id").GetString(), out _));
        Assert.Equal(user, e.GetProperty("from").GetString());
        Assert.Equal("c", e.GetProperty("to").GetString());
        Assert.Equal("ping", e.GetProperty("content").GetString());
        Assert.Equal(after[0] + "\n", Encoding.UTF8.GetString(LogView.StoreBytes(m, "contexts", "c", "inbox.jsonl")));
    }

    [Fact]
    public void EchoAppend_TranscriptMd_AppendsTextLinesAsWritten()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        Assert.Equal("", m.Ok("cat c/transcript.md"));

        m.Ok("printf '# heading\\nnot json — ünïcode {\\n' >> c/transcript.md");
        Assert.Equal("# heading\nnot json — ünïcode {\n", m.Ok("cat c/transcript.md"));

        m.Ok("echo 'second write' >> c/transcript.md");
        const string expected = "# heading\nnot json — ünïcode {\nsecond write\n";
        Assert.Equal(expected, m.Ok("cat c/transcript.md"));
        Assert.Equal(expected, Encoding.UTF8.GetString(LogView.StoreBytes(m, "contexts", "c", "transcript.md")));
    }

    [Fact]
    public void Write_TranscriptMdInvalidUtf8_FailsEinvalAndAppendsNothing()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c && echo 'kept' >> c/transcript.md");

        Assert.Equal(22, ViewProbe.Errno(m, """
            fd = os.open('c/transcript.md', os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'valid line\n\xff\xfe broken\n')
            """));
        Assert.Equal("kept\n", m.Ok("cat c/transcript.md"));
        Assert.Equal("kept\n", Encoding.UTF8.GetString(LogView.StoreBytes(m, "contexts", "c", "transcript.md")));
    }

    [Theory]
    [InlineData("c/transcript.jsonl", "[1,2]")]
    [InlineData("c/transcript.jsonl", "not json")]
    [InlineData("c/transcript.jsonl", "{\"content\":42}")]
    [InlineData("c/inbox.jsonl", "\"a string\"")]
    public void EchoAppend_LineNotAValidEntry_FailsEinvalAndAppendsNothing(string log, string line)
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        string before = m.Ok($"cat {log}");

        var (exit, _, stderr) = m.Sh($"echo '{line}' >> {log}");

        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", stderr);
        Assert.Equal(before, m.Ok($"cat {log}"));
        Assert.Single(LogView.Refusals(m, log));
    }

    [Fact]
    public void Write_300KiBOfLinesInOneCall_AppendsEveryLineOnceInOrder()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        Assert.Single(LogView.CatLines(m, "c/transcript.jsonl"));

        var (exit, stdout, stderr) = m.Python("""
            pad = 'x' * 200
            data = b''.join(json.dumps({'content': 'big-%05d-%s' % (i, pad)}).encode() + b'\n' for i in range(1400))
            assert len(data) > 300 * 1024, len(data)
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            n = os.write(fd, data)
            os.close(fd)
            print(n, len(data))
            """);

        Assert.True(exit == 0, stderr);
        var counts = stdout.Split(' ', StringSplitOptions.TrimEntries);
        Assert.Equal(counts[1], counts[0]);   // one write(2), accepted whole
        var contents = LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl"));
        var expected = Enumerable.Range(0, 1400).Select(i => $"big-{i:D5}-{new string('x', 200)}").ToList();
        Assert.Equal(["Context created", .. expected], contents);
        Assert.Equal(Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c")), m.Ok("cat c/transcript.jsonl"));
    }

    [Fact]
    public void Write_OneInvalidLineAmongValid_FailsEinvalAppendsNothingAndQuarantinesTheWrite()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        string before = m.Ok("cat c/transcript.jsonl");
        Assert.Empty(LogView.QuarantineFiles(m));

        Assert.Equal(22, ViewProbe.Errno(m, """
            lines = [json.dumps({'content': 'v-%05d-%s' % (i, 'y' * 200)}).encode() for i in range(1400)]
            lines[700] = b'{"content": "unterminated'
            data = b'\n'.join(lines) + b'\n'
            open(os.path.join(os.path.dirname(MNT), 'refused.bin'), 'wb').write(data)
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            os.write(fd, data)
            """));
        Assert.Equal(before, m.Ok("cat c/transcript.jsonl"));
        Assert.Equal(before, Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c")));
        var kept = Assert.Single(LogView.QuarantineFiles(m));
        Assert.Equal(File.ReadAllBytes(Path.Combine(m.Root, "refused.bin")), File.ReadAllBytes(kept));
        var logged = Assert.Single(LogView.Refusals(m, "c/transcript.jsonl"));
        Assert.Contains("EINVAL", logged);
    }

    [Fact]
    public void Inbox_ClearedInPlaceByChibi_WhileAWriterHoldsItOpen_NextAppendStartsAtZero()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        var (exit, stdout, stderr) = m.Python("""
            import fcntl
            STORE = os.path.join(os.path.dirname(MNT), 'store')
            fd = os.open('c/inbox.jsonl', os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'{"content":"read by chibi"}\n')
            # chibi's read-and-clear: under .inbox.lock, truncate to zero in place (same inode)
            lock = os.open(os.path.join(STORE, 'contexts', 'c', '.inbox.lock'), os.O_RDWR | os.O_CREAT)
            fcntl.flock(lock, fcntl.LOCK_EX)
            os.truncate(os.path.join(STORE, 'contexts', 'c', 'inbox.jsonl'), 0)
            fcntl.flock(lock, fcntl.LOCK_UN)
            print(os.stat('c/inbox.jsonl').st_size)
            os.write(fd, b'{"content":"after the clear"}\n')
            os.close(fd)
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal("0", stdout.Trim());
        var bytes = LogView.StoreBytes(m, "contexts", "c", "inbox.jsonl");
        Assert.DoesNotContain((byte)0, bytes);   // no hole where the cleared lines were
        Assert.Equal(["after the clear"], LogView.Contents(m.Ok("cat c/inbox.jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}

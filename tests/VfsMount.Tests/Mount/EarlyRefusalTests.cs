namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.2 "Refuse early", through the kernel: a shell never checks close, so the write that
/// makes a document's content hopeless fails at once — bash prints the error and exits
/// non-zero, the document stays as it was, the refusal is logged and its content quarantined.
/// </summary>
[Collection("Mount")]
public sealed class EarlyRefusalTests
{
    private static MountedStore StartWithDemo()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir demo && printf '{\"a\": 1}' > demo/context_meta.json && printf 'fine\\n' > demo/summary.md");
        return m;
    }

    [Theory]
    [InlineData("demo/context_meta.json", "'{broken'", "{\"a\": 1}", "{broken")]
    [InlineData("demo/summary.md", "'a\\xffb'", "fine\n", "a\u00ffb")]
    [InlineData("demo/context.jsonl", "'{\"x\":1}\\nnot json\\n'", null, "{\"x\":1}\nnot json\n")]
    [InlineData("state.json", "'[\"not an object\"]'", null, "[\"not an object\"]")]
    public void PrintfRedirect_HopelessContent_FailsInTheShellDocumentKept(string path, string printfArg, string? before, string written)
    {
        using var m = StartWithDemo();
        string storePath = path == "state.json" ? m.StorePath("state.json") : m.StorePath("contexts", path);
        byte[]? old = File.Exists(storePath) ? File.ReadAllBytes(storePath) : null;
        if (before is not null) Assert.Equal(before, File.ReadAllText(storePath));
        int quarantined = ViewProbe.QuarantineCount(m);

        var (exit, _, stderr) = m.Sh($"printf {printfArg} > {path}");

        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", stderr, StringComparison.Ordinal);
        Assert.Equal(old, File.Exists(storePath) ? File.ReadAllBytes(storePath) : null);
        Assert.Equal(quarantined + 1, ViewProbe.QuarantineCount(m));
        Assert.Equal(written.Select(c => (byte)c).ToArray(), ViewProbe.LastQuarantined(m));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused at write", StringComparison.Ordinal) && l.Contains(Path.GetFileName(path), StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
        // The staged copy goes at RELEASE, which the kernel sends after close(2) has returned.
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(5), () => ViewProbe.StrayFiles(m.StorePath("contexts", "demo")).Length == 0),
            string.Join(", ", ViewProbe.StrayFiles(m.StorePath("contexts", "demo"))));
    }

    [Fact]
    public void AppendRedirect_ToExistingDocument_RefusedEarlyToo()
    {
        using var m = StartWithDemo();
        var (exit, _, stderr) = m.Sh("printf 'a\\xffb' >> demo/summary.md");
        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = m.Sh("printf ', \"b\": 2}' >> demo/context_meta.json");   // after a complete object nothing more can come
        Assert.NotEqual(0, exit);
        Assert.Contains("Invalid argument", stderr, StringComparison.Ordinal);
        m.Ok("printf 'more\\n' >> demo/summary.md");
        Assert.Equal("fine\nmore\n", File.ReadAllText(m.StorePath("contexts", "demo", "summary.md")));
        Assert.Equal("{\"a\": 1}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
    }

    [Fact]
    public void PrintfRedirect_ValidPrefixOnly_RefusedAtCloseDocumentKept()
    {
        using var m = StartWithDemo();
        // `{"a":` could still become valid: the write succeeds, bash (which ignores close) exits 0,
        // and the commit at close is refused — the document keeps its content.
        var (exit, _, stderr) = m.Sh("printf '{\"a\":' > demo/context_meta.json");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("Invalid argument", stderr, StringComparison.Ordinal);
        Assert.Equal("{\"a\": 1}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
        Assert.True(ViewProbe.Within(TimeSpan.FromSeconds(10), () => m.Log.Contains("refused demo/context_meta.json: not JSON", StringComparison.Ordinal)), m.Log);
    }

    [Theory]
    [InlineData("demo/context_meta.json", "{\"k\": [1, \"日本\", {\"x\": null}]}")]
    [InlineData("demo/summary.md", "# 日本 😀\nline two\n")]
    [InlineData("demo/context.jsonl", "{\"role\":\"user\"}\n\n{\"c\":\"日本\"}\n")]
    public void OneByteWrites_ValidDocument_Accepted(string path, string content)
    {
        using var m = StartWithDemo();
        var (exit, stdout, stderr) = m.Python($$"""
            fd = os.open('{{path}}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            for b in bytes.fromhex('{{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(content))}}'):
                os.write(fd, bytes([b]))
            os.close(fd)
            print('ok')
            """);
        Assert.True(exit == 0 && stdout.Trim() == "ok", $"{stderr}\n{m.Log}");
        Assert.Equal(content, File.ReadAllText(m.StorePath("contexts", path)));
        Assert.DoesNotContain("refused", m.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteAtAnotherOffset_FallsBackToTheCheckAtClose()
    {
        using var m = StartWithDemo();
        // A hole-then-fill write order: not sequential, so only close decides — and it accepts.
        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('demo/context_meta.json', os.O_WRONLY | os.O_TRUNC)
            os.pwrite(fd, b'1}', 5)
            os.pwrite(fd, b'{"b":', 0)
            os.close(fd)
            print('ok')
            """);
        Assert.True(exit == 0 && stdout.Trim() == "ok", $"{stderr}\n{m.Log}");
        Assert.Equal("{\"b\":1}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
    }

    [Fact]
    public void RefusedWrite_HandleGoesOn_LaterValidWritesCommit()
    {
        using var m = StartWithDemo();
        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('demo/context_meta.json', os.O_WRONLY | os.O_TRUNC)
            os.write(fd, b'{"b":')
            try:
                os.write(fd, b'oops')
                print('accepted')
            except OSError as e:
                print(e.errno)
            os.write(fd, b'2}')
            os.close(fd)
            """);
        Assert.True(exit == 0, $"{stderr}\n{m.Log}");
        Assert.Equal("22", stdout.Trim());
        Assert.Equal("{\"b\":2}", File.ReadAllText(m.StorePath("contexts", "demo", "context_meta.json")));
    }
}

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §3 rows of documents, scratch, transcript/ and contexts: each refusal with its errno,
/// the committed state untouched, and one log line naming context, file and reason.
/// </summary>
[Collection("Mount")]
public sealed class ErrorRowTests
{
    private static string Ctx(MountedStore m, string name) => m.StorePath("contexts", "demo", name);

    private static string[] LogLines(MountedStore m) => m.Log.Split('\n');

    [Fact]
    public void WriteAndTruncate_DocumentPastLimit_FailEfbigDocumentUnchanged()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && echo kept > demo/summary.md");

        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('demo/summary.md', os.O_WRONLY)
            out = []
            for op in (lambda: os.pwrite(fd, b'x', 1 << 30), lambda: os.ftruncate(fd, (1 << 30) + 1)):
                try:
                    op(); out.append(0)
                except OSError as e:
                    out.append(e.errno)
            os.close(fd)
            print(out)
            """);

        Assert.True(exit == 0, stderr + m.Log);
        Assert.Equal("[27, 27]", stdout.Trim());
        Assert.Equal("kept\n", m.Ok("cat demo/summary.md"));
        Assert.Equal("kept\n", File.ReadAllText(Ctx(m, "summary.md")));
        Assert.Equal(2, LogLines(m).Count(l => l.Contains("refused demo/summary.md", StringComparison.Ordinal) && l.Contains("EFBIG", StringComparison.Ordinal)));
        Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
    }

    /// <summary>A store on a 4 MiB tmpfs: the disk fills while staging; a staged copy commits by rename, needing no more.</summary>
    [Fact]
    public void WriteAndCommit_FullDisk_FailEnospcNothingHalfWritten()
    {
        string? tmpfs = null;
        try
        {
            using var m = MountedStore.Start(prepareStore: store =>
            {
                var r = Shell.Run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", store], "/", 20);
                Assert.True(r.Exit == 0, $"cannot mount a tmpfs for the store (needs root): {r.Err}");
                tmpfs = store;
            });
            m.Ok("mkdir demo && echo kept > demo/summary.md");

            // 6 MiB cannot even be staged.
            var (exit, stdout, stderr) = m.Python("""
                try:
                    with open('demo/summary.md', 'w') as f:
                        for i in range(6):
                            f.write('y' * (1 << 20))
                    print(0)
                except OSError as e:
                    print(e.errno)
                """);
            Assert.True(exit == 0, stderr);
            Assert.Equal("28", stdout.Trim());
            Assert.Equal("kept\n", m.Ok("cat demo/summary.md"));
            Assert.Equal("kept\n", File.ReadAllText(Ctx(m, "summary.md")));
            Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));

            // 2.5 MiB stages, and commits: the staged copy is renamed into place, no second copy.
            (exit, stdout, stderr) = m.Python("""
                f = open('demo/summary.md', 'w')
                f.write('z' * (5 << 19)); f.flush()
                try:
                    f.close()
                    print(0)
                except OSError as e:
                    print(e.errno)
                """);
            Assert.True(exit == 0, stderr);
            Assert.Equal("0", stdout.Trim());
            Assert.Equal(5 << 19, new FileInfo(Ctx(m, "summary.md")).Length);
            Assert.Empty(ViewProbe.StrayFiles(m.StorePath("contexts", "demo")));
            Assert.Contains(LogLines(m), l => l.Contains("refused demo/summary.md", StringComparison.Ordinal) && l.Contains("ENOSPC", StringComparison.Ordinal));

            // Space again: the same document commits.
            m.Ok("echo fits > demo/summary.md");
            Assert.Equal("fits\n", File.ReadAllText(Ctx(m, "summary.md")));
        }
        finally
        {
            if (tmpfs is not null) Shell.Run("umount", ["-l", tmpfs], "/", 20);
        }
    }

    [Fact]
    public void Refusals_OneOfEachRow_EachLoggedOnceWithContextAndFile()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && printf '{}' > demo/context_meta.json");
        m.Ok("mkdir demo2");
        m.Ok("echo '{\"content\":\"x\"}' >> demo2/transcript.jsonl");
        int before = LogLines(m).Length;

        Assert.Equal(22, ViewProbe.Errno(m, "f = open('demo/context_meta.json', 'w'); f.write('{'); f.close()"));
        Assert.Equal(30, ViewProbe.Errno(m, "open('demo/transcript/x', 'w')"));
        Assert.Equal(22, ViewProbe.Errno(m, "os.mkdir('no way')"));
        Assert.Equal(39, ViewProbe.Errno(m, "os.rmdir('demo2')"));
        Assert.Equal(17, ViewProbe.Errno(m, "os.rename('demo', 'demo2')"));
        Assert.Equal(1, ViewProbe.Errno(m, "open('demo/.lock', 'w')"));

        var lines = LogLines(m)[(before - 1)..];
        Assert.Single(lines, l => l.Contains("demo/context_meta.json", StringComparison.Ordinal) && l.Contains("EINVAL", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("refused demo/transcript/x", StringComparison.Ordinal) && l.Contains("EROFS", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("no way", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("demo2", StringComparison.Ordinal) && l.Contains("anchor", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("demo2", StringComparison.Ordinal) && l.Contains("exists", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("demo/.lock", StringComparison.Ordinal) && l.Contains("EPERM", StringComparison.Ordinal));
        Assert.Equal("{}", File.ReadAllText(Ctx(m, "context_meta.json")));
        Assert.False(File.Exists(Ctx(m, ".lock")));
    }

    [Fact]
    public void Quarantine_RefusedDocuments_KeptWithReason()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");

        Assert.Equal(22, ViewProbe.Errno(m, "f = open('demo/local.toml', 'w'); f.write('= nope'); f.close()"));
        // Refused at the write (SPEC §2.2 "Refuse early"); raw os.write, as Python's buffered file retries a failed flush when collected.
        Assert.Equal(22, ViewProbe.Errno(m, "fd = os.open('demo/context.jsonl', os.O_WRONLY | os.O_CREAT | os.O_TRUNC); os.write(fd, b'\"just a string\"\\n')"));

        var kept = Directory.GetFiles(m.StorePath(".vfsmount", "quarantine"), "*.bin").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, kept.Length);
        Assert.Equal("= nope", File.ReadAllText(kept[0]));
        Assert.Equal("\"just a string\"\n", File.ReadAllText(kept[1]));
        Assert.All(kept, k => Assert.True(new FileInfo(k + ".reason").Length > 0));
        Assert.False(File.Exists(Ctx(m, "local.toml")));
        Assert.False(File.Exists(Ctx(m, "context.jsonl")));
        Assert.DoesNotContain("local.toml", ViewProbe.Ls(m, "demo"));
        // The store's quarantine is shown only as the generated, read-only .vfsmount/quarantine/ (SPEC §2).
        var shown = ViewProbe.Ls(m, ".vfsmount/quarantine").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["= nope", "\"just a string\"\n"], shown.Select(n => m.Ok($"cat '.vfsmount/quarantine/{n}'")));
        Assert.Equal(30, ViewProbe.Errno(m, $"os.unlink('.vfsmount/quarantine/{shown[0]}')"));
    }
}

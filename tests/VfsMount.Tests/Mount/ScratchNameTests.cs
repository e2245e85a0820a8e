namespace VfsMount.Tests.Mount;

/// <summary>
/// Internal names are internal only where chibi and the mount put them (SPEC §2.3): names shaped
/// like temp files or lock files are a user's everywhere else — beside the documents when the
/// stem is not one of chibi's, and anywhere in a scratch directory — as `mktemp`-style tools need.
/// </summary>
[Collection("Mount")]
public sealed class ScratchNameTests
{
    private static string Ctx(MountedStore m, params string[] parts) => m.StorePath(["contexts", "demo", .. parts]);

    [Theory]
    [InlineData("dir/a.tmp.5")]
    [InlineData("dir/summary.tmp.7")]          // chibi's stem, but not where chibi writes it
    [InlineData("dir/.lock")]
    [InlineData("dir/.dirty")]
    [InlineData("dir/.vfsmount-tmp-x.md.abc")]
    [InlineData("notes.tmp.5")]                // the top directory: not a stem of chibi's files
    [InlineData("summary.md.tmp.7")]           // chibi's temp of summary.md is summary.tmp.7
    [InlineData(".transcript.lock")]           // chibi keeps it in transcript/, not here
    public void TempLikeName_InScratch_CreateWriteListRenameUnlink(string name)
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && mkdir demo/dir");
        string p = $"demo/{name}";
        string dir = Path.GetDirectoryName(p)!;

        m.Ok($"echo one > '{p}' && echo two >> '{p}'");
        Assert.Equal("one\ntwo\n", m.Ok($"cat '{p}'"));
        Assert.Equal("one\ntwo\n", File.ReadAllText(Ctx(m, name.Split('/'))));
        Assert.Contains(Path.GetFileName(name), ViewProbe.Ls(m, dir));
        Assert.Equal("8", m.Ok($"stat -c %s '{p}'").Trim());

        string moved = $"{dir}/{Path.GetFileName(name)}.tmp.6";
        m.Ok($"mv '{p}' '{moved}'");
        Assert.DoesNotContain(Path.GetFileName(name), ViewProbe.Ls(m, dir));
        Assert.Equal("one\ntwo\n", m.Ok($"cat '{moved}'"));
        m.Ok($"mv '{moved}' '{p}' && rm '{p}'");
        Assert.DoesNotContain(Path.GetFileName(name), ViewProbe.Ls(m, dir));
        Assert.False(File.Exists(Ctx(m, name.Split('/'))));
        Assert.DoesNotContain(m.Log.Split('\n'), l => l.Contains("refused", StringComparison.Ordinal));
    }

    [Fact]
    public void TempLikeNames_InScratchDir_MkdirAndMktemp()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && mkdir demo/dir");

        m.Ok("mkdir demo/dir/work.tmp.3 && echo x > demo/dir/work.tmp.3/.lock");
        Assert.Equal("x\n", m.Ok("cat demo/dir/work.tmp.3/.lock"));
        // What tools do with temp names: write beside the target, then rename over it.
        m.Ok("echo new > demo/dir/out.txt.tmp.12345 && mv demo/dir/out.txt.tmp.12345 demo/dir/out.txt");
        Assert.Equal("new\n", m.Ok("cat demo/dir/out.txt"));
        Assert.Equal(["out.txt", "work.tmp.3"], ViewProbe.Ls(m, "demo/dir").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ChibiTempNames_TopLevel_HiddenAndRefused()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");
        File.WriteAllText(Ctx(m, "summary.tmp.11"), "chibi's\n");
        File.WriteAllText(Ctx(m, "notes.tmp.11"), "mine\n");

        var names = ViewProbe.Ls(m, "demo");
        Assert.DoesNotContain("summary.tmp.11", names);
        Assert.Contains("notes.tmp.11", names);
        Assert.Equal(2, ViewProbe.Errno(m, "open('demo/summary.tmp.11').read()"));
        Assert.Equal(1, ViewProbe.Errno(m, "open('demo/context.tmp.4', 'w').close()"));
        Assert.Equal("mine\n", m.Ok("cat demo/notes.tmp.11"));
        Assert.Equal("chibi's\n", File.ReadAllText(Ctx(m, "summary.tmp.11")));
        Assert.Contains(m.Log.Split('\n'), l => l.Contains("refused demo/context.tmp.4", StringComparison.Ordinal));
    }

    [Fact]
    public void MountTimeRecovery_ScratchTempLookalikes_Kept()
    {
        string[] mine = ["notes.tmp.5", "summary.md.tmp.7", "dir/summary.tmp.7"];
        using var m = MountedStore.Start(prepareStore: store =>
        {
            string ctx = Path.Combine(store, "contexts", "demo");
            Directory.CreateDirectory(Path.Combine(ctx, "dir"));
            Directory.CreateDirectory(Path.Combine(ctx, "transcript"));
            foreach (var name in mine.Append("summary.tmp.9"))
            {
                string path = Path.Combine(ctx, name);
                File.WriteAllText(path, "x");
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
            }
        });

        foreach (var name in mine) Assert.Equal("x", m.Ok($"cat demo/{name}"));
        Assert.False(File.Exists(Ctx(m, "summary.tmp.9")));   // chibi's, from a crash: recovered
    }
}

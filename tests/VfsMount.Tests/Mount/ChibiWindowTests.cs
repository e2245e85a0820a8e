using VfsMount.Tests.Store;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 "chibi's window": what is appended to transcript.jsonl through the mount reaches
/// the agent — the context is marked dirty as chibi marks it, and chibi's rebuild (done by
/// <see cref="ChibiRules.LoadContext"/>, from STORE-FORMAT.md's rule) puts the entry into
/// context.jsonl, with the role chibi 0.10 reads it by. On every store layout.
/// </summary>
[Collection("Mount")]
public sealed class ChibiWindowTests
{
    public static TheoryData<ChibiLayout> Layouts => ChibiFixtures.All;

    [Theory]
    [MemberData(nameof(Layouts))]
    public void AppendThroughMount_MarksDirty_RebuiltWindowHoldsItWithRoles(ChibiLayout layout)
    {
        using var m = MountedStore.Start(prepareStore: s => ChibiFixtures.Create(s, layout));
        string ctx = m.StorePath("contexts", ChibiFixtures.Context);
        Assert.False(File.Exists(Path.Combine(ctx, ".dirty")));
        Assert.False(ChibiRules.LoadContext(ctx));   // chibi's window is in step with its transcript

        m.Ok("echo '{\"content\":\"Add the hiring plan\"}' >> work/transcript.jsonl");
        Assert.True(File.Exists(Path.Combine(ctx, ".dirty")), "an append through the mount must mark the context dirty");
        Assert.Equal(0, new FileInfo(Path.Combine(ctx, ".dirty")).Length);
        m.Ok("printf '%s\\n' '{\"from\":\"work\",\"to\":\"user\",\"content\":\"Noted.\"}' >> work/transcript.jsonl");
        Assert.DoesNotContain(".dirty", m.Ok("ls -a work"));   // internal: never listed

        Assert.True(ChibiRules.LoadContext(ctx));
        Assert.False(File.Exists(Path.Combine(ctx, ".dirty")));
        var window = ChibiRules.Window(ctx);
        Assert.Equal(ChibiFixtures.Entries(layout).Length + 2, window.Count);
        Assert.Equal("context_created", window[0]["entry_type"]!.GetValue<string>());
        Assert.Equal(("Add the hiring plan", "user"), (window[^2]["content"]!.GetValue<string>(), window[^2]["role"]!.GetValue<string>()));
        Assert.Equal(("Noted.", "agent"), (window[^1]["content"]!.GetValue<string>(), window[^1]["role"]!.GetValue<string>()));
        ChibiRules.AssertReadable(m.Store, layout);
    }

    [Fact]
    public void ChibiDeletedDirty_NextAppendMarksItAgain()
    {
        using var m = MountedStore.Start(prepareStore: s => ChibiFixtures.Create(s, ChibiLayout.V05));
        string ctx = m.StorePath("contexts", ChibiFixtures.Context);
        m.Ok("echo '{\"content\":\"one\"}' >> work/transcript.jsonl");
        Assert.True(ChibiRules.LoadContext(ctx));
        m.Ok("echo '{\"content\":\"two\"}' >> work/transcript.jsonl");
        Assert.True(ChibiRules.LoadContext(ctx));
        Assert.Equal("two", ChibiRules.Window(ctx)[^1]["content"]!.GetValue<string>());
    }
}

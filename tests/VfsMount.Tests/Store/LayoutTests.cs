using System.Text;
using VfsMount.Store;
using VfsMount.Store.Json;

namespace VfsMount.Tests.Store;

/// <summary>The store layer on each layout's fixture: reading, appending (dirty mark, legacy migration), rotation, removal.</summary>
public sealed class LayoutTests
{
    public static TheoryData<ChibiLayout> Layouts => ChibiFixtures.All;

    private static CompletedEntry Entry(string json) => EntryCompleter.Transcript(Encoding.UTF8.GetBytes(json), ChibiFixtures.Context, "alice", 1_800_000_000);

    [Theory]
    [MemberData(nameof(Layouts))]
    public void ReadAppendRotate_OnEachLayout_AsChibiReadsIt(ChibiLayout layout)
    {
        using var temp = new TempStore();
        ChibiFixtures.Create(temp.Root, layout);
        var store = temp.Open();
        var log = store.Transcript(ChibiFixtures.Context);
        string ctx = temp.ContextDir(ChibiFixtures.Context);
        string expected = string.Concat(ChibiFixtures.Entries(layout).Select(l => l + "\n"));
        Assert.Equal(expected, Disk.Utf8(Disk.ReadAll(log)));
        Assert.Equal(39, Assert.Throws<StoreException>(() => store.RemoveContext(ChibiFixtures.Context)).Errno);   // history is never destroyed

        log.Append([Entry("{\"content\":\"next\"}"), Entry("{\"from\":\"work\",\"to\":\"user\",\"content\":\"ok\"}")]);

        Assert.True(File.Exists(Path.Combine(ctx, ".dirty")));
        Assert.False(File.Exists(Path.Combine(ctx, "transcript.jsonl")));   // legacy: migrated before the append
        string whole = Disk.Utf8(Disk.ReadAll(log));
        Assert.StartsWith(expected, whole, StringComparison.Ordinal);   // offsets never move, migration included
        Assert.Equal(string.Concat(ChibiRules.TranscriptLines(ctx).Select(l => l + "\n")), whole);

        log.Rotate();
        var partition = Disk.Manifest(temp.TranscriptDir(ChibiFixtures.Context))["partitions"]!.AsArray().Single()!.AsObject();
        Assert.Equal(5, partition["entry_count"]!.GetValue<long>());
        Assert.Equal(layout == ChibiLayout.V010, partition.ContainsKey("prompt_count"));
        if (layout == ChibiLayout.V010) Assert.Equal(2, partition["prompt_count"]!.GetValue<long>());   // the fixture's prompt and "next"
        Assert.Equal(whole, Disk.Utf8(Disk.ReadAll(log)));
        ChibiRules.AssertReadable(temp.Root, layout);
    }

    [Fact]
    public void Rotation_ManifestAlreadyCountsPrompts_KeepsCountingOnA05Store()
    {
        using var temp = new TempStore();
        ChibiFixtures.Create(temp.Root, ChibiLayout.V05);
        var log = temp.Open().Transcript(ChibiFixtures.Context);
        log.Rotate();
        string manifest = Path.Combine(temp.TranscriptDir(ChibiFixtures.Context), "manifest.json");
        var m = Disk.Manifest(temp.TranscriptDir(ChibiFixtures.Context));
        Assert.False(m["partitions"]![0]!.AsObject().ContainsKey("prompt_count"));
        m["partitions"]![0]!.AsObject().Insert(4, "prompt_count", 1);   // as a newer chibi would have written it
        File.WriteAllBytes(manifest, JsonFormat.ToPretty(m));

        log.Append([Entry("{\"content\":\"again\"}")]);
        log.Rotate();

        var second = Disk.Manifest(temp.TranscriptDir(ChibiFixtures.Context))["partitions"]![1]!.AsObject();
        Assert.Equal(1, second["prompt_count"]!.GetValue<long>());
    }
}

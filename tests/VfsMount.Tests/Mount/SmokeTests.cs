using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>The first things a user does with a mounted store, through the kernel with real programs.</summary>
[Collection("Mount")]
public sealed class SmokeTests
{
    [Fact]
    public void Mkdir_ThenEchoAppend_ShowsCompletedEntry()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo && echo '{\"content\":\"hello\"}' >> demo/transcript.jsonl");

        var lines = m.Ok("cat demo/transcript.jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var anchor = JsonDocument.Parse(lines[0]);
        Assert.Equal("context_created", anchor.RootElement.GetProperty("entry_type").GetString());
        using var entry = JsonDocument.Parse(lines[1]);
        Assert.Equal("hello", entry.RootElement.GetProperty("content").GetString());
        Assert.Equal("demo", entry.RootElement.GetProperty("to").GetString());
        Assert.Equal(Environment.UserName, entry.RootElement.GetProperty("from").GetString());
        Assert.Equal(File.ReadAllText(m.StorePath("contexts", "demo", "transcript", "active.jsonl")), string.Join('\n', lines) + "\n");
    }

    [Fact]
    public void Sigterm_WhileIdle_UnmountsCleanlyAndExitsZero()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir demo");
        Assert.Equal(0, m.Terminate());
        Assert.False(m.IsMounted());
    }
}

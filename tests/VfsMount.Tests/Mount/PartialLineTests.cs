using System.Text;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.1 "lines are the unit": an unfinished line waits in its handle until its '\n'
/// arrives or the handle is closed; what readers see before and after each write and close.
/// </summary>
[Collection("Mount")]
public sealed class PartialLineTests
{
    [Fact]
    public void PartialLine_TwoPrintfsThroughOneFd_AppendsOneEntryAtTheNewline()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        // `printf … >&3` closes a copy of fd 3 after each printf, and `$(wc …)` forks a child that
        // inherits fd 3 and closes it when it exits: none of these closes may cut the line.
        string counts = m.Ok("""
            exec 3>>c/transcript.jsonl
            echo -n "$(wc -l < c/transcript.jsonl) "
            printf '{"content":"part' >&3
            echo -n "$(wc -l < c/transcript.jsonl) "
            printf 'ial"}\n' >&3
            echo -n "$(wc -l < c/transcript.jsonl) "
            exec 3>&-
            echo -n "$(wc -l < c/transcript.jsonl) "
            """);

        Assert.Equal("1 1 2 2", counts.Trim());
        var lines = LogView.CatLines(m, "c/transcript.jsonl");
        Assert.Equal(["Context created", "partial"], LogView.Contents(lines));
        Assert.Empty(LogView.QuarantineFiles(m));
    }

    [Fact]
    public void PartialLine_JsonThenNewlineAsTwoPrintfs_AppendsOneEntry()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        // As chibi writes: the JSON, then the '\n', here through the shell's fd copies.
        string counts = m.Ok("""
            exec 3>>c/transcript.jsonl
            printf '{"content":"whole"}' >&3
            echo -n "$(wc -l < c/transcript.jsonl) "
            printf '\n' >&3
            echo -n "$(wc -l < c/transcript.jsonl) "
            printf '{"content":"next"}\n' >&3
            exec 3>&-
            echo -n "$(wc -l < c/transcript.jsonl) "
            """);

        Assert.Equal("2 2 3", counts.Trim());
        Assert.Equal(["Context created", "whole", "next"], LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl")));
        Assert.Empty(LogView.Refusals(m, "c/transcript.jsonl"));
    }

    [Fact]
    public void PartialLine_SplitAcrossManyWrites_AppendsWholeLinesOnly()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        var (exit, stdout, stderr) = m.Python("""
            def count():
                with open('c/transcript.jsonl', 'rb') as f:
                    return f.read().count(b'\n')
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            seen = [count()]
            for chunk in [b'{"con', b'tent": "a"}\n{"content"', b': "b"}', b'\n']:
                os.write(fd, chunk)
                seen.append(count())
            os.close(fd)
            seen.append(count())
            print(' '.join(map(str, seen)))
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal("1 1 2 2 3 3", stdout.Trim());
        Assert.Equal(["Context created", "a", "b"], LogView.Contents(LogView.CatLines(m, "c/transcript.jsonl")));
    }

    [Fact]
    public void UnfinishedLine_AtClose_IsAppendedWithNewline()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        m.Ok("printf '{\"content\":\"no newline\"}' >> c/transcript.jsonl");

        string text = m.Ok("cat c/transcript.jsonl");
        Assert.EndsWith("\n", text);
        Assert.Equal(["Context created", "no newline"], LogView.Contents(text.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(text, Encoding.UTF8.GetString(LogView.StoreTranscript(m, "c")));
    }

    [Fact]
    public void UnfinishedLine_TranscriptMdAtClose_IsAppendedWithNewline()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");

        m.Ok("printf 'one\\ntwo' >> c/transcript.md");

        Assert.Equal("one\ntwo\n", m.Ok("cat c/transcript.md"));
    }

    [Fact]
    public void UnfinishedLine_InvalidAtClose_CloseFailsEinvalAndNothingIsAppended()
    {
        using var m = MountedStore.Start();
        m.Ok("mkdir c");
        string before = m.Ok("cat c/transcript.jsonl");

        var (exit, stdout, stderr) = m.Python("""
            fd = os.open('c/transcript.jsonl', os.O_WRONLY | os.O_APPEND)
            print(os.write(fd, b'{"content": "good"}\n{"content": "broken'))
            with open('c/transcript.jsonl', 'rb') as f:
                print(f.read().count(b'\n'))
            try:
                os.close(fd)
                print('closed')
            except OSError as e:
                print('errno', e.errno)
            """);

        Assert.True(exit == 0, stderr);
        Assert.Equal(["39", "2", "errno 22"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var after = m.Ok("cat c/transcript.jsonl");
        Assert.StartsWith(before, after);
        Assert.Equal(["Context created", "good"], LogView.Contents(after.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        // The refusal is final at release, which the kernel sends right after the close.
        Assert.True(LogView.WaitFor(() => LogView.QuarantineFiles(m).Length > 0, TimeSpan.FromSeconds(5)), "nothing quarantined");
        var kept = Assert.Single(LogView.QuarantineFiles(m));
        Assert.Equal("{\"content\": \"broken\n", File.ReadAllText(kept));
        // The daemon's log reaches the test through a pipe, a moment after the quarantine file.
        Assert.True(LogView.WaitFor(() => LogView.Refusals(m, "c/transcript.jsonl").Length > 0, TimeSpan.FromSeconds(5)), "no refusal logged");
        Assert.Contains("EINVAL", Assert.Single(LogView.Refusals(m, "c/transcript.jsonl")));
        Assert.Equal(after, m.Ok("cat c/transcript.jsonl"));
    }
}

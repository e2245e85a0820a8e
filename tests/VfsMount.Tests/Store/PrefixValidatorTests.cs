using System.Text;
using VfsMount.Store.Documents;

namespace VfsMount.Tests.Store;

/// <summary>SPEC §2.2 "Refuse early": which prefixes can still become valid, fed in every split.</summary>
public sealed class PrefixValidatorTests
{
    [Theory]
    [InlineData(DocumentFormat.JsonObject, "{\"a\":[1,2,{\"b\":\"héllo 日本\"}],\"c\":true}  \n")]
    [InlineData(DocumentFormat.JsonObject, "\uFEFF{\"bom\":1}")]
    [InlineData(DocumentFormat.JsonObject, "{\"a\":")]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\n\n{\"b\":\"日本\"}\r\n{\"unfinished\":")]
    [InlineData(DocumentFormat.Text, "plain 日本 text 😀 and more")]
    public void ValidPrefix_AcceptedInEverySplit(DocumentFormat format, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int chunk = 1; chunk <= bytes.Length; chunk++)
        {
            var v = PrefixValidator.ForEmpty(format)!;
            for (int at = 0; at < bytes.Length; at += chunk)
                Assert.True(v.TryAppend(bytes.AsSpan(at, Math.Min(chunk, bytes.Length - at)), out var reason), $"chunk {chunk} at {at}: {reason}");
            Assert.Equal(bytes.Length, v.Length);
        }
    }

    /// <summary>
    /// A commit skips reading the staged copy back only when the followed content is the whole
    /// document and valid as it stands — the check at close would accept it — in every split.
    /// </summary>
    [Theory]
    [InlineData(DocumentFormat.Text, "plain 日本 text 😀\n", true)]
    [InlineData(DocumentFormat.Text, "", true)]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\n\n{\"b\":2}\r\n", true)]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\n{\"b\":2}", true)]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\n{\"unfinished\":", false)]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\n[1]", false)]
    [InlineData(DocumentFormat.JsonObject, "{\"a\":1}", false)]   // JSON is always checked whole (repeated keys, strings' bytes)
    public void Completes_OnlyForWholeValidContent(DocumentFormat format, string text, bool complete)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int chunk = 1; chunk <= Math.Max(1, bytes.Length); chunk++)
        {
            var v = PrefixValidator.ForEmpty(format)!;
            for (int at = 0; at < bytes.Length; at += chunk)
                Assert.True(v.TryAppend(bytes.AsSpan(at, Math.Min(chunk, bytes.Length - at)), out var reason), $"chunk {chunk} at {at}: {reason}");
            Assert.Equal(complete, v.Completes(bytes.Length));
            Assert.False(v.Completes(bytes.Length + 1));   // a copy longer than what was followed: read it
        }
    }

    [Fact]
    public void Completes_TextCutInsideAUtf8Sequence_False()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("日本");
        var v = PrefixValidator.ForEmpty(DocumentFormat.Text)!;
        Assert.True(v.TryAppend(bytes.AsSpan(0, 4), out _));
        Assert.False(v.Completes(4));
        Assert.True(v.TryAppend(bytes.AsSpan(4), out _));
        Assert.True(v.Completes(6));
    }

    [Theory]
    [InlineData(DocumentFormat.JsonObject, "{broken", 1)]
    [InlineData(DocumentFormat.JsonObject, "[1,2]", 0)]
    [InlineData(DocumentFormat.JsonObject, "{\"a\":1} x", 8)]
    [InlineData(DocumentFormat.JsonObject, "{\"a\":1,}", 7)]
    [InlineData(DocumentFormat.JsonLines, "{\"a\":1}\nnot json\n", 16)]
    [InlineData(DocumentFormat.JsonLines, "[1]\n", 3)]
    public void InvalidJson_RefusedAtTheBreakingByte_NotBefore(DocumentFormat format, string text, int breaking)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var v = PrefixValidator.ForEmpty(format)!;
        for (int i = 0; i < breaking; i++) Assert.True(v.TryAppend(bytes.AsSpan(i, 1), out var r), $"byte {i}: {r}");
        Assert.False(v.TryAppend(bytes.AsSpan(breaking, 1), out var reason));
        Assert.NotNull(reason);
        Assert.Equal(breaking, v.Length);   // refused whole: the state is as before the write
        // and the same bytes in one write are refused too
        Assert.False(PrefixValidator.ForEmpty(format)!.TryAppend(bytes, out _));
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', 0xFF, (byte)'b' })]
    [InlineData(new byte[] { 0xC3, 0x28 })]            // a lead byte followed by no continuation
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]      // a UTF-16 surrogate
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 })]      // overlong
    public void NotUtf8_Refused_ButACutShortSequenceIsNot(byte[] bytes)
    {
        Assert.False(PrefixValidator.ForEmpty(DocumentFormat.Text)!.TryAppend(bytes, out var reason));
        Assert.Equal("not UTF-8", reason);
        var cut = PrefixValidator.ForEmpty(DocumentFormat.Text)!;
        Assert.True(cut.TryAppend([(byte)'a', (byte)'b', 0xE6, 0x97], out _));   // "日" less its last byte
        Assert.False(cut.TryAppend("x"u8, out _));
        Assert.True(cut.TryAppend([0xA5], out _));
    }

    [Fact]
    public void Toml_HasNoEarlyCheck() => Assert.Null(PrefixValidator.ForEmpty(DocumentFormat.Toml));
}

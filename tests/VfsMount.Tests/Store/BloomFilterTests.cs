using System.Text;
using System.Text.Json;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

public sealed class BloomFilterTests
{
    // Reference key 00 01 .. 0f read as two little-endian u64 halves.
    private const ulong RefK0 = 0x0706050403020100UL;
    private const ulong RefK1 = 0x0F0E0D0C0B0A0908UL;

    // SipHash-1-3, 64-bit output, key 00..0f, message i = bytes 00 01 .. (i-1) for i = 0..63.
    // Copied from rust-lang/rust, library/core/tests/hash/sip.rs (test_siphash_1_3), where each vector
    // is given as 8 bytes and read with u64::from_le_bytes; written here as the resulting u64.
    private static readonly ulong[] SipHash13Vectors =
    [
        0xABAC0158050FC4DCUL, 0xC9F49BF37D57CA93UL, 0x82CB9B024DC7D44DUL, 0x8BF80AB8E7DDF7FBUL,
        0xCF75576088D38328UL, 0xDEF9D52F49533B67UL, 0xC50D2B50C59F22A7UL, 0xD3927D989BB11140UL,
        0x369095118D299A8EUL, 0x25A48EB36C063DE4UL, 0x79DE85EE92FF097FUL, 0x70C118C1F94DC352UL,
        0x78A384B157B4D9A2UL, 0x306F760C1229FFA7UL, 0x605AA111C0F95D34UL, 0xD320D86D2A519956UL,
        0xCC4FDD1A7D908B66UL, 0x9CF2689063DBD80CUL, 0x8FFC389CB473E63EUL, 0xF21F9DE58D297D1CUL,
        0xC0DC2F46A6CCE040UL, 0xB992ABFE2B45F844UL, 0x7FFE7B9BA320872EUL, 0x525A0E7FDAE6C123UL,
        0xF464AEB267349C8CUL, 0x45CD5928705B0979UL, 0x3A3E35E3CA9913A5UL, 0xA91DC74E4ADE3B35UL,
        0xFB0BED02EF6CD00DUL, 0x88D93CB44AB1E1F4UL, 0x540F11D643C5E663UL, 0x2370DD1F8C21D1BCUL,
        0x81157B6C16A7B60DUL, 0x4D54B9E57A8FF9BFUL, 0x759F12781F2A753EUL, 0xCEA1A3BEBF186B91UL,
        0x2CF508D3ADA26206UL, 0xB6101C2DA3C33057UL, 0xB3F47496AE3A36A1UL, 0x626B57547B108392UL,
        0xC1D2363299E41531UL, 0x667CC1923F1AD944UL, 0x65704FFEC8138825UL, 0x24F280D1C28949A6UL,
        0xC2CA1CEDFAF8876BUL, 0xC2164BFC9F042196UL, 0xA16E9C9368B1D623UL, 0x49FB169C8B5114FDUL,
        0x9F3143F8DF074C46UL, 0xC6FDAF2412CC86B3UL, 0x7EAF49D10A52098FUL, 0x1CF313559D292F9AUL,
        0xC44A30DDA2F41F12UL, 0x36FAE98943A71ED0UL, 0x318FB34C73F0BCE6UL, 0xA27ABF3670A7E980UL,
        0xB4BCC0DB243C6D75UL, 0x23F8D852FDB71513UL, 0x8F035F4DA67D8A08UL, 0xD89CD0E5B7E8F148UL,
        0xF6F4E6BCF7A644EEUL, 0xAEC59AD80F1837F2UL, 0xC3B2F6154B6694E0UL, 0x9D199062B7BBB3A8UL,
    ];

    // SipHash-2-4 reference vectors (same key and messages). Copied from rust-lang/rust,
    // library/core/tests/hash/sip.rs (test_siphash_2_4); identical to vectors_sip64 of the
    // reference implementation github.com/veorq/SipHash (also as u64 in e.g. cybozu/yrmcds test/siphash.cpp).
    private static readonly ulong[] SipHash24Vectors =
    [
        0x726FDB47DD0E0E31UL, 0x74F839C593DC67FDUL, 0x0D6C8009D9A94F5AUL, 0x85676696D7FB7E2DUL,
        0xCF2794E0277187B7UL, 0x18765564CD99A68DUL, 0xCBC9466E58FEE3CEUL, 0xAB0200F58B01D137UL,
        0x93F5F5799A932462UL, 0x9E0082DF0BA9E4B0UL, 0x7A5DBBC594DDB9F3UL, 0xF4B32F46226BADA7UL,
        0x751E8FBC860EE5FBUL, 0x14EA5627C0843D90UL, 0xF723CA908E7AF2EEUL, 0xA129CA6149BE45E5UL,
        0x3F2ACC7F57C29BDBUL, 0x699AE9F52CBE4794UL, 0x4BC1B3F0968DD39CUL, 0xBB6DC91DA77961BDUL,
        0xBED65CF21AA2EE98UL, 0xD0F2CBB02E3B67C7UL, 0x93536795E3A33E88UL, 0xA80C038CCD5CCEC8UL,
        0xB8AD50C6F649AF94UL, 0xBCE192DE8A85B8EAUL, 0x17D835B85BBB15F3UL, 0x2F2E6163076BCFADUL,
        0xDE4DAAACA71DC9A5UL, 0xA6A2506687956571UL, 0xAD87A3535C49EF28UL, 0x32D892FAD841C342UL,
        0x7127512F72F27CCEUL, 0xA7F32346F95978E3UL, 0x12E0B01ABB051238UL, 0x15E034D40FA197AEUL,
        0x314DFFBE0815A3B4UL, 0x027990F029623981UL, 0xCADCD4E59EF40C4DUL, 0x9ABFD8766A33735CUL,
        0x0E3EA96B5304A7D0UL, 0xAD0C42D6FC585992UL, 0x187306C89BC215A9UL, 0xD4A60ABCF3792B95UL,
        0xF935451DE4F21DF2UL, 0xA9538F0419755787UL, 0xDB9ACDDFF56CA510UL, 0xD06C98CD5C0975EBUL,
        0xE612A3CB9ECBA951UL, 0xC766E62CFCADAF96UL, 0xEE64435A9752FE72UL, 0xA192D576B245165AUL,
        0x0A8787BF8ECB74B2UL, 0x81B3E73D20B49B6FUL, 0x7FA8220BA3B2ECEAUL, 0x245731C13CA42499UL,
        0xB78DBFAF3A8D83BDUL, 0xEA1AD565322A1A0BUL, 0x60E61C23A3795013UL, 0x6606D7E446282B93UL,
        0x6CA4ECB15C5F91E1UL, 0x9F626DA15C9625F3UL, 0xE51B38608EF25F57UL, 0x958A324CEB064572UL,
    ];

    private static byte[] RefMessage(int length)
    {
        var message = new byte[length];
        for (int i = 0; i < length; i++)
        {
            message[i] = (byte)i;
        }
        return message;
    }

    [Fact]
    public void SipHash13_MatchesAllReferenceVectors()
    {
        Assert.Equal(64, SipHash13Vectors.Length);
        for (int length = 0; length < 64; length++)
        {
            Assert.Equal(SipHash13Vectors[length], SipHash13.Hash(RefK0, RefK1, RefMessage(length)));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(63)]
    public void SipHash13_BoundaryLengths(int length)
    {
        Assert.Equal(SipHash13Vectors[length], SipHash13.Hash(RefK0, RefK1, RefMessage(length)));
    }

    [Fact]
    public void SipHash24_MatchesAllReferenceVectors()
    {
        Assert.Equal(64, SipHash24Vectors.Length);
        for (int length = 0; length < 64; length++)
        {
            Assert.Equal(SipHash24Vectors[length], SipHash13.Hash24(RefK0, RefK1, RefMessage(length)));
        }
    }

    [Fact]
    public void SipHash13_InitialState_IsKeyXorConstants()
    {
        var (v0, v1, v2, v3) = SipHash13.InitialState(RefK0, RefK1);
        Assert.Equal(RefK0 ^ 0x736f6d6570736575UL, v0);
        Assert.Equal(RefK1 ^ 0x646f72616e646f6dUL, v1);
        Assert.Equal(RefK0 ^ 0x6c7967656e657261UL, v2);
        Assert.Equal(RefK1 ^ 0x7465646279746573UL, v3);
        Assert.Equal(SipHash13Vectors[5], SipHash13.HashFromState(v0, v1, v2, v3, RefMessage(5)));
    }

    [Fact]
    public void Terms_SplitsOnNonAlphanumeric_DropsShortWords_LowerCases()
    {
        Assert.Equal(["hello", "wörld", "42"], BloomFilter.Terms("Hello, wörld! a 42 x_y"));
    }

    [Fact]
    public void Terms_KeepsDuplicates()
    {
        Assert.Equal(["the", "cat", "the", "hat"], BloomFilter.Terms("The cat; the HAT."));
    }

    [Fact]
    public void Terms_ByteLengthCountsUtf8_BeforeLowerCasing()
    {
        // "é" is one char but two UTF-8 bytes, so it is kept; "a" (1 byte) is dropped.
        Assert.Equal(["é", "日本", "ab"], BloomFilter.Terms("é a 日本 ab"));
        // U+0130 is 2 bytes; Rust lower-cases it to "i\u0307".
        Assert.Equal(["i\u0307"], BloomFilter.Terms("\u0130"));
    }

    [Fact]
    public void Terms_NumbersOfAllKindsAreAlphanumeric()
    {
        // '²' (No) and 'Ⅻ' (Nl) are numeric in Rust, so they join words.
        Assert.Equal(["x²", "ⅻ", "٣٤"], BloomFilter.Terms("x² Ⅻ ٣٤"));
    }

    [Fact]
    public void Terms_EmptyAndSeparatorsOnly_YieldNothing()
    {
        Assert.Empty(BloomFilter.Terms(""));
        Assert.Empty(BloomFilter.Terms("  ,.;-- _ \n\t"));
        Assert.Empty(BloomFilter.Terms("a b c"));
    }

    [Fact]
    public void Terms_FinalSigma_LowerCasesLikeRust()
    {
        Assert.Equal(["οδός", "σα"], BloomFilter.Terms("ΟΔΌΣ ΣΑ"));
    }

    [Theory]
    [InlineData(0, 512, 1)]      // n = 0: minimum size, k = 1 (no division by zero)
    [InlineData(1, 512, 354)]    // 2 bytes -> 16 bits -> 64 -> clamped to 512; floor(ln2*512/1)
    [InlineData(2, 512, 177)]
    [InlineData(50, 512, 7)]     // 60 bytes = 480 bits -> 512
    [InlineData(100, 960, 6)]    // 120 bytes = 960 bits (15 words)
    [InlineData(1000, 9600, 6)]  // 1199 bytes = 9592 bits -> 9600
    [InlineData(10000, 95872, 6)] // 11982 bytes = 95856 bits -> 95872
    public void Size_FollowsChibiFormula(int n, int bits, int k)
    {
        var (actualBits, actualK) = BloomFilter.Size(n);
        Assert.Equal(bits, actualBits);
        Assert.Equal(k, actualK);
    }

    [Fact]
    public void Build_SizesFromTermCountIncludingDuplicates()
    {
        var contents = Enumerable.Range(0, 50).Select(i => $"word{i} again again").ToList();
        var filter = BloomFilter.Build(contents, 1, 2);
        var (bits, k) = BloomFilter.Size(150);
        Assert.Equal(bits, filter.Bits);
        Assert.Equal(k, filter.NumHashes);
    }

    [Fact]
    public void Build_EveryTermTestsPositive()
    {
        var contents = new List<string>();
        for (int i = 0; i < 400; i++)
        {
            contents.Add($"Entry {i}: the quick-brown fox #{i * 7919} jumps over Zäune and 日本語 text{i}");
        }
        var filter = BloomFilter.Build(contents);
        foreach (var content in contents)
        {
            foreach (var term in BloomFilter.Terms(content))
            {
                Assert.True(filter.MightContain(term), term);
            }
        }
        // Case-insensitive lookups, as terms are lower-cased.
        Assert.True(filter.MightContain("QUICK"));
        Assert.True(filter.MightContain("ZÄUNE"));
    }

    [Fact]
    public void Build_FalsePositiveRateIsRoughlyOnePercent()
    {
        var contents = Enumerable.Range(0, 2000).Select(i => $"present{i}").ToList();
        var filter = BloomFilter.Build(contents, 0x0123456789abcdefUL, 0xfedcba9876543210UL);
        int falsePositives = Enumerable.Range(0, 10000).Count(i => filter.MightContain($"absent{i}"));
        Assert.True(falsePositives < 300, $"{falsePositives} false positives out of 10000");
    }

    [Fact]
    public void Build_EmptyFilter_ContainsNothingAndSerializes()
    {
        var filter = BloomFilter.Build([], 5, 6);
        Assert.Equal(512, filter.Bits);
        Assert.Equal(1, filter.NumHashes);
        Assert.False(filter.MightContain("anything"));
        Assert.StartsWith("{\"bits\":{\"bits\":[0,0,0,0,0,0,0,0]},\"num_hashes\":1,", Encoding.UTF8.GetString(filter.ToJson()));
    }

    [Fact]
    public void Build_SameKeysSameBits_DifferentKeysDifferentBits()
    {
        string[] contents = ["alpha beta gamma delta epsilon", "zeta eta theta"];
        var a = BloomFilter.Build(contents, 11, 22);
        var b = BloomFilter.Build(contents, 11, 22);
        var c = BloomFilter.Build(contents, 33, 44);
        Assert.Equal(a.ToJson(), b.ToJson());
        Assert.False(a.Words.SequenceEqual(c.Words));
    }

    [Fact]
    public void Build_RandomKeysByDefault()
    {
        var a = BloomFilter.Build(["hello world"]);
        var b = BloomFilter.Build(["hello world"]);
        Assert.False(a.K0 == b.K0 && a.K1 == b.K1);
    }

    [Fact]
    public void MightContain_UsesDocumentedProbeSequence()
    {
        const ulong k0 = 0x1111111111111111UL, k1 = 0x2222222222222222UL;
        var filter = BloomFilter.Build(["needle"], k0, k1);
        // Recompute the bit positions by hand from the spec and check they are exactly the set bits.
        ulong h = SipHash13.Hash(k0, k1, [.. "needle"u8, 0xFF]);
        ulong h2 = unchecked((h >> 32) * 0x517cc1b727220a95UL);
        var expected = new ulong[filter.Bits / 64];
        for (int i = 0; i < filter.NumHashes; i++)
        {
            h = ulong.RotateLeft(unchecked(h + h2), 5);
            ulong idx = ((h >> 32) * (ulong)filter.Bits) >> 32;
            expected[idx >> 6] |= 1UL << (int)(idx & 63);
        }
        Assert.Equal(expected, filter.Words.ToArray());
    }

    [Fact]
    public void ToJson_HasExactLayout()
    {
        const ulong k0 = 0xDEADBEEFCAFEBABEUL, k1 = 18446744073709551615UL;
        var filter = BloomFilter.Build(["Some words here, and there"], k0, k1);
        var json = Encoding.UTF8.GetString(filter.ToJson());
        var (v0, v1, v2, v3) = SipHash13.InitialState(k0, k1);

        Assert.StartsWith("{\"bits\":{\"bits\":[", json);
        Assert.DoesNotContain(" ", json);
        Assert.DoesNotContain("\n", json);
        string words = string.Join(",", filter.Words.ToArray());
        string expected =
            "{\"bits\":{\"bits\":[" + words + "]},\"num_hashes\":" + filter.NumHashes +
            ",\"hasher\":{\"hasher\":{\"hasher\":{\"k0\":" + k0 + ",\"k1\":" + k1 +
            ",\"length\":0,\"state\":{\"v0\":" + v0 + ",\"v2\":" + v2 + ",\"v1\":" + v1 + ",\"v3\":" + v3 +
            "},\"tail\":0,\"ntail\":0,\"_marker\":null}}}}";
        Assert.Equal(expected, json);
        Assert.Contains(",\"k1\":18446744073709551615,", json);
    }

    [Fact]
    public void ToJson_StateMatchesKeyDerivedValues()
    {
        const ulong k0 = 42, k1 = 4242;
        var filter = BloomFilter.Build(["xx yy"], k0, k1);
        using var doc = JsonDocument.Parse(filter.ToJson());
        var sip = doc.RootElement.GetProperty("hasher").GetProperty("hasher").GetProperty("hasher");
        var state = sip.GetProperty("state");
        Assert.Equal(k0, sip.GetProperty("k0").GetUInt64());
        Assert.Equal(k1, sip.GetProperty("k1").GetUInt64());
        Assert.Equal(k0 ^ 0x736f6d6570736575UL, state.GetProperty("v0").GetUInt64());
        Assert.Equal(k1 ^ 0x646f72616e646f6dUL, state.GetProperty("v1").GetUInt64());
        Assert.Equal(k0 ^ 0x6c7967656e657261UL, state.GetProperty("v2").GetUInt64());
        Assert.Equal(k1 ^ 0x7465646279746573UL, state.GetProperty("v3").GetUInt64());
        Assert.Equal(["v0", "v2", "v1", "v3"], state.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void FromJson_RoundTripsByteIdentically()
    {
        var contents = Enumerable.Range(0, 300).Select(i => $"message {i} with Ünïcödé and numbers {i * i}").ToList();
        var original = BloomFilter.Build(contents);
        byte[] json = original.ToJson();
        var parsed = BloomFilter.FromJson(json);
        Assert.Equal(json, parsed.ToJson());
        Assert.Equal(original.Bits, parsed.Bits);
        Assert.Equal(original.NumHashes, parsed.NumHashes);
        Assert.Equal(original.K0, parsed.K0);
        Assert.Equal(original.K1, parsed.K1);
        foreach (var term in contents.SelectMany(BloomFilter.Terms))
        {
            Assert.True(parsed.MightContain(term));
        }
    }

    [Fact]
    public void FromJson_AcceptsHandWrittenFileAndUsesSerializedState()
    {
        const ulong k0 = 7, k1 = 9;
        var built = BloomFilter.Build(["lookup target"], k0, k1);
        // Same file re-emitted with other whitespace and key order still parses to the same filter.
        var (v0, v1, v2, v3) = SipHash13.InitialState(k0, k1);
        string words = string.Join(", ", built.Words.ToArray());
        string loose =
            "{ \"num_hashes\": " + built.NumHashes + ", \"bits\": { \"bits\": [" + words + "] },\n" +
            "  \"hasher\": { \"hasher\": { \"hasher\": { \"_marker\": null, \"ntail\": 0, \"tail\": 0, " +
            "\"state\": { \"v3\": " + v3 + ", \"v1\": " + v1 + ", \"v2\": " + v2 + ", \"v0\": " + v0 + " }, " +
            "\"length\": 0, \"k1\": " + k1 + ", \"k0\": " + k0 + " } } } }\n";
        var parsed = BloomFilter.FromJson(Encoding.UTF8.GetBytes(loose));
        Assert.True(parsed.MightContain("lookup"));
        Assert.True(parsed.MightContain("target"));
        Assert.Equal(built.ToJson(), parsed.ToJson());
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("{\"bits\":{\"bits\":[]},\"num_hashes\":1,\"hasher\":{\"hasher\":{\"hasher\":{\"k0\":1,\"k1\":2,\"length\":0,\"state\":{\"v0\":1,\"v2\":1,\"v1\":1,\"v3\":1},\"tail\":0,\"ntail\":0,\"_marker\":null}}}}")]
    [InlineData("{\"bits\":{\"bits\":[1]},\"num_hashes\":0,\"hasher\":{\"hasher\":{\"hasher\":{\"k0\":1,\"k1\":2,\"length\":0,\"state\":{\"v0\":1,\"v2\":1,\"v1\":1,\"v3\":1},\"tail\":0,\"ntail\":0,\"_marker\":null}}}}")]
    [InlineData("{\"bits\":{\"bits\":[-1]},\"num_hashes\":1,\"hasher\":{\"hasher\":{\"hasher\":{\"k0\":1,\"k1\":2,\"length\":0,\"state\":{\"v0\":1,\"v2\":1,\"v1\":1,\"v3\":1},\"tail\":0,\"ntail\":0,\"_marker\":null}}}}")]
    [InlineData("{\"bits\":{\"bits\":[1]},\"num_hashes\":1,\"hasher\":{\"hasher\":{\"hasher\":{\"k0\":1,\"k1\":2,\"length\":3,\"state\":{\"v0\":1,\"v2\":1,\"v1\":1,\"v3\":1},\"tail\":0,\"ntail\":0,\"_marker\":null}}}}")]
    [InlineData("{\"bits\":{\"bits\":[1]},\"num_hashes\":1,\"hasher\":{\"hasher\":{\"k0\":1,\"k1\":2,\"length\":0,\"state\":{\"v0\":1,\"v2\":1,\"v1\":1,\"v3\":1},\"tail\":0,\"ntail\":0,\"_marker\":null}}}")]
    public void FromJson_RejectsMalformedFiles(string json)
    {
        Assert.Throws<FormatException>(() => BloomFilter.FromJson(Encoding.UTF8.GetBytes(json)));
    }
}

using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace VfsMount.Store.Transcript;

/// <summary>
/// The per-partition bloom filter chibi writes beside each transcript partition
/// (<c>partitions/&lt;s&gt;-&lt;e&gt;.bloom</c>): fastbloom 0.14 keyed with SipHash-1-3,
/// serialized by serde_json. See the "Bloom file" section of STORE-FORMAT.md.
/// </summary>
/// <remarks>
/// Exact format (compact, no trailing newline; key order matters):
/// <c>{"bits":{"bits":[u64,…]},"num_hashes":k,"hasher":{"hasher":{"hasher":{"k0":…,"k1":…,"length":0,
/// "state":{"v0":…,"v2":…,"v1":…,"v3":…},"tail":0,"ntail":0,"_marker":null}}}}</c>.
/// </remarks>
public sealed class BloomFilter
{
    /// <summary>Target false-positive rate chibi sizes its filters for.</summary>
    internal const double FalsePositiveRate = 0.01;

    /// <summary>Smallest filter chibi writes, in bits.</summary>
    internal const int MinBits = 512;

    /// <summary>fastbloom's multiplier deriving the second hash from the upper half of the first.</summary>
    private const ulong H2Multiplier = 0x517cc1b727220a95UL;

    private readonly ulong[] _words;
    private readonly ulong _v0, _v1, _v2, _v3;

    private BloomFilter(ulong[] words, int numHashes, ulong k0, ulong k1, ulong v0, ulong v1, ulong v2, ulong v3)
    {
        _words = words;
        NumHashes = numHashes;
        K0 = k0;
        K1 = k1;
        _v0 = v0;
        _v1 = v1;
        _v2 = v2;
        _v3 = v3;
    }

    /// <summary>Number of bit probes per term (fastbloom's <c>num_hashes</c>).</summary>
    public int NumHashes { get; }

    /// <summary>Size of the bit vector in bits (always a multiple of 64).</summary>
    public int Bits => _words.Length * 64;

    /// <summary>SipHash key, first half.</summary>
    internal ulong K0 { get; }

    /// <summary>SipHash key, second half.</summary>
    internal ulong K1 { get; }

    /// <summary>The serialized SipHash state (v0, v1, v2, v3).</summary>
    internal (ulong V0, ulong V1, ulong V2, ulong V3) State => (_v0, _v1, _v2, _v3);

    /// <summary>The raw bit vector words (little-endian bit order within a word).</summary>
    internal ReadOnlySpan<ulong> Words => _words;

    /// <summary>
    /// Builds a filter over the terms of <paramref name="contents"/> (one string per entry),
    /// sized as chibi sizes it. Keys not given are drawn from <see cref="RandomNumberGenerator"/>.
    /// </summary>
    public static BloomFilter Build(IEnumerable<string> contents, ulong? k0 = null, ulong? k1 = null)
    {
        ArgumentNullException.ThrowIfNull(contents);
        // Two passes (count, then insert) instead of a list of every term: a partition of
        // large entries has millions of terms, and holding them all grew the daemon by MiBs.
        var all = contents as IReadOnlyCollection<string> ?? contents.ToList();
        long n = 0;
        foreach (var content in all)
        {
            n += WordBounds(content ?? string.Empty).Count();
        }

        var (bits, numHashes) = Size(n);
        ulong key0 = k0 ?? RandomKey();
        ulong key1 = k1 ?? RandomKey();
        var (v0, v1, v2, v3) = SipHash13.InitialState(key0, key1);
        var filter = new BloomFilter(new ulong[bits / 64], numHashes, key0, key1, v0, v1, v2, v3);
        foreach (var content in all)
        {
            foreach (var term in Terms(content ?? string.Empty))
            {
                filter.Insert(term);
            }
        }
        return filter;
    }

    /// <summary>
    /// chibi's sizing: <c>bytes = ceil(n·ln 0.01 / (−8·ln²2))</c>; <c>bits = max(512, bytes·8 rounded up to a
    /// multiple of 64)</c>; <c>k = max(1, floor(ln 2 · bits / n))</c>. For <c>n = 0</c> the filter is 512 bits
    /// and <c>k = 1</c> (the formula would divide by zero).
    /// </summary>
    internal static (int Bits, int NumHashes) Size(long n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        double ln2 = Math.Log(2.0);
        double bytes = Math.Ceiling(n * Math.Log(FalsePositiveRate) / (-8.0 * ln2 * ln2));
        double rawBits = bytes * 8.0;
        double roundedBits = Math.Ceiling(rawBits / 64.0) * 64.0;
        if (roundedBits > int.MaxValue - 63)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "Too many terms for one bloom filter.");
        }
        int bits = Math.Max(MinBits, (int)roundedBits);
        if (n == 0)
        {
            return (bits, 1);
        }
        double k = Math.Floor(ln2 * bits / n);
        return (bits, (int)Math.Max(1.0, k));
    }

    /// <summary>
    /// chibi's terms of one entry: split on every character that is not alphanumeric (Rust
    /// <c>char::is_alphanumeric</c>, approximated as Unicode letter or number), keep words of at least
    /// 2 UTF-8 bytes (measured before lower-casing), lower-case them (Rust <c>str::to_lowercase</c>).
    /// Duplicates are kept.
    /// </summary>
    /// <remarks>
    /// Known deviation: Rust's <c>Alphabetic</c> also includes <c>Other_Alphabetic</c> marks (e.g. some
    /// combining vowel signs, circled letters), which .NET does not expose; those split words here.
    /// </remarks>
    public static IEnumerable<string> Terms(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return TermsIterator(content);
    }

    private static IEnumerable<string> TermsIterator(string content)
    {
        foreach (var (start, length) in WordBounds(content))
        {
            yield return ToLowerRust(content.AsSpan(start, length));
        }
    }

    /// <summary>Where the terms are: runs of alphanumeric runes of at least 2 UTF-8 bytes.</summary>
    private static IEnumerable<(int Start, int Length)> WordBounds(string content)
    {
        int wordStart = 0;
        int wordBytes = 0;
        int index = 0;
        foreach (var rune in content.EnumerateRunes())
        {
            if (IsAlphanumeric(rune))
            {
                wordBytes += rune.Utf8SequenceLength;
            }
            else
            {
                if (wordBytes >= 2)
                {
                    yield return (wordStart, index - wordStart);
                }
                wordBytes = 0;
                wordStart = index + rune.Utf16SequenceLength;
            }
            index += rune.Utf16SequenceLength;
        }
        if (wordBytes >= 2)
        {
            yield return (wordStart, index - wordStart);
        }
    }

    /// <summary>Whether the filter may contain <paramref name="term"/> (lower-cased as terms are).</summary>
    public bool MightContain(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        ulong h = HashTerm(ToLowerRust(term));
        ulong h2 = (h >> 32) * H2Multiplier;
        ulong bits = (ulong)Bits;
        for (int i = 0; i < NumHashes; i++)
        {
            h = ulong.RotateLeft(h + h2, 5);
            ulong idx = ((h >> 32) * bits) >> 32;
            if ((_words[idx >> 6] & (1UL << (int)(idx & 63))) == 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Sets the bits of an already lower-cased term.</summary>
    private void Insert(string term)
    {
        ulong h = HashTerm(term);
        ulong h2 = (h >> 32) * H2Multiplier;
        ulong bits = (ulong)Bits;
        for (int i = 0; i < NumHashes; i++)
        {
            h = ulong.RotateLeft(h + h2, 5);
            ulong idx = ((h >> 32) * bits) >> 32;
            _words[idx >> 6] |= 1UL << (int)(idx & 63);
        }
    }

    /// <summary>Rust's <c>str::hash</c>: the UTF-8 bytes followed by 0xFF, through SipHash-1-3.</summary>
    private ulong HashTerm(string term)
    {
        int count = Encoding.UTF8.GetByteCount(term) + 1;
        byte[]? rented = null;
        Span<byte> buffer = count <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(count));
        try
        {
            int written = Encoding.UTF8.GetBytes(term, buffer);
            buffer[written] = 0xFF;
            return SipHash13.HashFromState(_v0, _v1, _v2, _v3, buffer[..(written + 1)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The bloom file bytes: compact UTF-8 JSON in fastbloom/serde_json layout, no trailing newline.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(64 + _words.Length * 21);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WritePropertyName("bits"u8);
            w.WriteStartObject();
            w.WritePropertyName("bits"u8);
            w.WriteStartArray();
            foreach (var word in _words)
            {
                w.WriteNumberValue(word);
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNumber("num_hashes"u8, NumHashes);
            w.WritePropertyName("hasher"u8);
            w.WriteStartObject();
            w.WritePropertyName("hasher"u8);
            w.WriteStartObject();
            w.WritePropertyName("hasher"u8);
            w.WriteStartObject();
            w.WriteNumber("k0"u8, K0);
            w.WriteNumber("k1"u8, K1);
            w.WriteNumber("length"u8, 0);
            w.WritePropertyName("state"u8);
            w.WriteStartObject();
            // siphasher declares its State struct as v0, v2, v1, v3.
            w.WriteNumber("v0"u8, _v0);
            w.WriteNumber("v2"u8, _v2);
            w.WriteNumber("v1"u8, _v1);
            w.WriteNumber("v3"u8, _v3);
            w.WriteEndObject();
            w.WriteNumber("tail"u8, 0);
            w.WriteNumber("ntail"u8, 0);
            w.WriteNull("_marker"u8);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Parses a bloom file. Property order is not enforced. The hasher must be fresh
    /// (<c>length</c>, <c>tail</c>, <c>ntail</c> all 0), as chibi always writes it; the serialized
    /// <c>state</c> is used for hashing as-is (as siphasher does), so a round trip is byte-identical.
    /// </summary>
    /// <exception cref="FormatException">The bytes are not a bloom file of this shape.</exception>
    public static BloomFilter FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;

            var bitsArray = root.GetProperty("bits").GetProperty("bits");
            var words = new ulong[bitsArray.GetArrayLength()];
            int i = 0;
            foreach (var item in bitsArray.EnumerateArray())
            {
                words[i++] = item.GetUInt64();
            }
            if (words.Length == 0 || words.Length > int.MaxValue / 64)
            {
                throw new FormatException($"Bloom file has an invalid bit vector length ({words.Length} words).");
            }

            ulong numHashes = root.GetProperty("num_hashes").GetUInt64();
            if (numHashes is 0 or > int.MaxValue)
            {
                throw new FormatException($"Bloom file has an invalid num_hashes ({numHashes}).");
            }

            var sip = root.GetProperty("hasher").GetProperty("hasher").GetProperty("hasher");
            ulong k0 = sip.GetProperty("k0").GetUInt64();
            ulong k1 = sip.GetProperty("k1").GetUInt64();
            ulong length = sip.GetProperty("length").GetUInt64();
            ulong tail = sip.GetProperty("tail").GetUInt64();
            ulong ntail = sip.GetProperty("ntail").GetUInt64();
            if (length != 0 || tail != 0 || ntail != 0)
            {
                throw new FormatException("Bloom file hasher is not in its freshly keyed state.");
            }
            if (sip.TryGetProperty("_marker", out var marker) && marker.ValueKind != JsonValueKind.Null)
            {
                throw new FormatException("Bloom file hasher _marker is not null.");
            }
            var state = sip.GetProperty("state");
            ulong v0 = state.GetProperty("v0").GetUInt64();
            ulong v1 = state.GetProperty("v1").GetUInt64();
            ulong v2 = state.GetProperty("v2").GetUInt64();
            ulong v3 = state.GetProperty("v3").GetUInt64();

            return new BloomFilter(words, (int)numHashes, k0, k1, v0, v1, v2, v3);
        }
        catch (JsonException ex)
        {
            throw new FormatException("Bloom file is not valid JSON.", ex);
        }
        catch (KeyNotFoundException ex)
        {
            throw new FormatException("Bloom file is missing a field.", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new FormatException("Bloom file has a field of the wrong type.", ex);
        }
    }

    private static ulong RandomKey()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }

    /// <summary>Rust <c>char::is_alphanumeric</c>: Alphabetic or Numeric (Nd, Nl, No).</summary>
    private static bool IsAlphanumeric(Rune rune) => Rune.IsLetterOrDigit(rune) || Rune.IsNumber(rune);

    /// <summary>
    /// Rust <c>str::to_lowercase</c>: Unicode simple lower-case mapping per character, plus its two
    /// special cases: U+0130 → "i\u0307" and Σ → ς when word-final (else σ).
    /// </summary>
    internal static string ToLowerRust(ReadOnlySpan<char> text)
    {
        var sb = new StringBuilder(text.Length);
        Span<char> chars = stackalloc char[2];
        int index = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            int len = rune.Utf16SequenceLength;
            if (rune.Value == 0x0130)
            {
                sb.Append('i').Append('\u0307');
            }
            else if (rune.Value == 0x03A3)
            {
                bool final = CaseIgnorableThenCasedBackward(text[..index])
                    && !CaseIgnorableThenCasedForward(text[(index + len)..]);
                sb.Append(final ? 'ς' : 'σ');
            }
            else
            {
                var lower = Rune.ToLowerInvariant(rune);
                int n = lower.EncodeToUtf16(chars);
                sb.Append(chars[..n]);
            }
            index += len;
        }
        return sb.ToString();
    }

    private static bool CaseIgnorableThenCasedForward(ReadOnlySpan<char> text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (!IsCaseIgnorable(rune))
            {
                return IsCased(rune);
            }
        }
        return false;
    }

    private static bool CaseIgnorableThenCasedBackward(ReadOnlySpan<char> text)
    {
        int end = text.Length;
        while (end > 0)
        {
            Rune.DecodeLastFromUtf16(text[..end], out var rune, out int consumed);
            if (!IsCaseIgnorable(rune))
            {
                return IsCased(rune);
            }
            end -= consumed;
        }
        return false;
    }

    // Approximations of the Unicode derived properties Cased and Case_Ignorable (Rust uses the exact
    // tables). Only relevant for the word-final sigma rule.
    private static bool IsCased(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
            or UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || rune.Value is '\'' or '.' or ':' or 0x00B7 or 0x2018 or 0x2019 or 0x2024 or 0xFE52 or 0xFF07 or 0xFF0E;
}

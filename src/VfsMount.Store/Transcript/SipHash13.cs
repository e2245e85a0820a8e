using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VfsMount.Store.Transcript;

/// <summary>
/// SipHash-1-3 (one compression round, three finalization rounds) with a 64-bit output,
/// as used by Rust's <c>siphasher::sip::SipHasher13</c> (and therefore by chibi's bloom
/// filter, fastbloom 0.14). Message words are little-endian; the last block carries
/// <c>(length &amp; 0xff) &lt;&lt; 56</c>.
/// </summary>
internal static class SipHash13
{
    internal const ulong C0 = 0x736f6d6570736575UL; // "somepseu"
    internal const ulong C1 = 0x646f72616e646f6dUL; // "dorandom"
    internal const ulong C2 = 0x6c7967656e657261UL; // "lygenera"
    internal const ulong C3 = 0x7465646279746573UL; // "tedbytes"

    /// <summary>SipHash-1-3 of <paramref name="data"/> under the key (k0, k1).</summary>
    public static ulong Hash(ulong k0, ulong k1, ReadOnlySpan<byte> data)
    {
        var (v0, v1, v2, v3) = InitialState(k0, k1);
        return HashFromState(v0, v1, v2, v3, data);
    }

    /// <summary>The SipHash state right after keying (what siphasher serializes as <c>state</c>).</summary>
    public static (ulong V0, ulong V1, ulong V2, ulong V3) InitialState(ulong k0, ulong k1) =>
        (k0 ^ C0, k1 ^ C1, k0 ^ C2, k1 ^ C3);

    /// <summary>SipHash-1-3 of <paramref name="data"/> starting from an explicit keyed state.</summary>
    public static ulong HashFromState(ulong v0, ulong v1, ulong v2, ulong v3, ReadOnlySpan<byte> data) =>
        Core(v0, v1, v2, v3, data, compressionRounds: 1, finalizationRounds: 3);

    /// <summary>SipHash-2-4 (the original variant); used to cross-check the shared core against its vectors.</summary>
    internal static ulong Hash24(ulong k0, ulong k1, ReadOnlySpan<byte> data)
    {
        var (v0, v1, v2, v3) = InitialState(k0, k1);
        return Core(v0, v1, v2, v3, data, compressionRounds: 2, finalizationRounds: 4);
    }

    private static ulong Core(ulong v0, ulong v1, ulong v2, ulong v3, ReadOnlySpan<byte> data,
        int compressionRounds, int finalizationRounds)
    {
        int length = data.Length;
        int whole = length & ~7;
        for (int i = 0; i < whole; i += 8)
        {
            ulong m = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i, 8));
            v3 ^= m;
            for (int r = 0; r < compressionRounds; r++)
            {
                Round(ref v0, ref v1, ref v2, ref v3);
            }
            v0 ^= m;
        }

        ulong b = (ulong)(length & 0xff) << 56;
        ReadOnlySpan<byte> tail = data[whole..];
        for (int i = 0; i < tail.Length; i++)
        {
            b |= (ulong)tail[i] << (8 * i);
        }

        v3 ^= b;
        for (int r = 0; r < compressionRounds; r++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }
        v0 ^= b;

        v2 ^= 0xff;
        for (int r = 0; r < finalizationRounds; r++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }
        return v0 ^ v1 ^ v2 ^ v3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}

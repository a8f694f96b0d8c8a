using System.Runtime.CompilerServices;

namespace Aim.Engine.Random;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
/// generator. Output block = Philox(counter, key); any block can be computed directly, so CPU and GPU
/// produce the same stream from the same (seed, counter).
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Ten rounds of Philox4x32 on a 128-bit counter with a 64-bit key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(ulong counterLow, ulong counterHigh, ulong key)
    {
        uint c0 = (uint)counterLow, c1 = (uint)(counterLow >> 32), c2 = (uint)counterHigh, c3 = (uint)(counterHigh >> 32);
        uint k0 = (uint)key, k1 = (uint)(key >> 32);
        for (int r = 0; r < 10; r++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0; k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>
    /// The value the (<paramref name="index"/>+1)-th <see cref="Rng.NextDouble"/> call of <c>new Rng(seed, counterBase)</c>
    /// returns, computed directly: that call reads 32-bit words 2·(index mod 2) and 2·(index mod 2)+1 of block
    /// counterBase + index/2 (high then low), so any draw of a stream can be made without the ones before it
    /// (the device sampler, sample.cu, computes the same words).
    /// </summary>
    public static double UniformDouble(ulong seed, ulong counterBase, ulong index)
    {
        var (b0, b1, b2, b3) = Block(counterBase + index / 2, 0, seed);
        ulong hi, lo;
        if ((index & 1) == 0) (hi, lo) = (b0, b1);
        else (hi, lo) = (b2, b3);
        return ToDouble(hi, lo);
    }

    /// <summary>Uniform in [0, 1) with 53 bits from two 32-bit words: (hi·2^21 xor lo/2^11)·2^-53.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double ToDouble(ulong hi, ulong lo) => ((hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

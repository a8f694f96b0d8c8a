using Aim.Engine.Random;

namespace Aim.Engine.Tests.Random;

/// <summary>Philox4x32-10 against the Random123 known answers, and direct uniforms against the sequential generator.</summary>
public class PhiloxTests
{
    [Theory]
    // Random123 kat_vectors, philox4x32 10 rounds: counter (4 words), key (2 words) → output (4 words).
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void BlockMatchesKnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        var got = Philox.Block(c0 | ((ulong)c1 << 32), c2 | ((ulong)c3 << 32), k0 | ((ulong)k1 << 32));
        Assert.Equal((r0, r1, r2, r3), got);
    }

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(0xC0FFEEUL, 11UL)]
    [InlineData(ulong.MaxValue, ulong.MaxValue - 3)] // the block counter wraps, as Rng's does
    public void UniformDoubleIsTheSequentialStream(ulong seed, ulong counterBase)
    {
        var rng = new Rng(seed, counterBase);
        for (ulong i = 0; i < 37; i++)
            Assert.Equal(rng.NextDouble(), Philox.UniformDouble(seed, counterBase, i));
    }

    [Fact]
    public void UniformDoubleIsInTheUnitInterval()
    {
        for (ulong i = 0; i < 1000; i++)
        {
            double u = Philox.UniformDouble(5, 0, i);
            Assert.InRange(u, 0.0, Math.BitDecrement(1.0));
        }
    }
}

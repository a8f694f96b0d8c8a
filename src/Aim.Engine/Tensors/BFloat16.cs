using System.Runtime.CompilerServices;

namespace Aim.Engine.Tensors;

/// <summary>bfloat16: the top 16 bits of an IEEE float32. Conversion rounds to nearest even.</summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    /// <summary>The raw bits.</summary>
    public ushort Bits { get; }

    private BFloat16(ushort bits) => Bits = bits;

    /// <summary>Wraps raw bits.</summary>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>Round-to-nearest-even conversion; NaN stays NaN (quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BFloat16 FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) return new BFloat16((ushort)((u >> 16) | 0x40));
        uint rounding = 0x7FFF + ((u >> 16) & 1);
        return new BFloat16((ushort)((u + rounding) >> 16));
    }

    /// <summary>Exact widening to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    /// <inheritdoc />
    public bool Equals(BFloat16 other) => Bits == other.Bits;
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);
    /// <inheritdoc />
    public override int GetHashCode() => Bits;
    /// <inheritdoc />
    public override string ToString() => ToSingle().ToString("R", System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>Bitwise equality.</summary>
    public static bool operator ==(BFloat16 a, BFloat16 b) => a.Bits == b.Bits;
    /// <summary>Bitwise inequality.</summary>
    public static bool operator !=(BFloat16 a, BFloat16 b) => a.Bits != b.Bits;
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Random;

/// <summary>
/// The engine's one random generator: Philox4x32-10 keyed by the seed, advanced by a 64-bit counter.
/// Passed explicitly (no global state). <see cref="Position"/> can be saved and restored for exact resume.
/// </summary>
public sealed class Rng
{
    private readonly ulong _key;
    private ulong _counter;
    private uint _b0, _b1, _b2, _b3;
    private int _used = 4;

    /// <summary>A generator for <paramref name="seed"/>, starting at block <paramref name="position"/>.</summary>
    public Rng(ulong seed, ulong position = 0)
    {
        _key = seed;
        _counter = position;
    }

    /// <summary>The seed.</summary>
    public ulong Seed => _key;

    /// <summary>Index of the next unused 128-bit block (a partially used block is discarded on restore).</summary>
    public ulong Position => _counter;

    /// <summary>A fresh generator whose stream is independent of this one's (same seed, other counter half).</summary>
    public Rng Fork(ulong stream) => new(_key ^ (0x9E3779B97F4A7C15UL * (stream + 1)));

    /// <summary>Moves to block Position + <paramref name="blocks"/>, dropping what is left of the current block.</summary>
    public void Skip(ulong blocks)
    {
        _counter += blocks;
        _used = 4;
    }

    /// <summary>32 random bits.</summary>
    public uint NextUInt32()
    {
        if (_used == 4)
        {
            (_b0, _b1, _b2, _b3) = Philox.Block(_counter, 0, _key);
            _counter++;
            _used = 0;
        }
        return _used++ switch { 0 => _b0, 1 => _b1, 2 => _b2, _ => _b3 };
    }

    /// <summary>Uniform in [0, 1) with 24 bits of precision (exactly representable in float32).</summary>
    public float NextFloat() => (NextUInt32() >> 8) * (1.0f / 16777216.0f);

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble()
    {
        ulong hi = NextUInt32(), lo = NextUInt32();
        return Philox.ToDouble(hi, lo);
    }

    /// <summary>Standard normal (Box-Muller).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        return (int)(NextDouble() * n);
    }

    /// <summary>A float32 tensor of U[low, high) values.</summary>
    public Tensor Uniform(ReadOnlySpan<int> shape, double low = 0, double high = 1, Device? device = null)
    {
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(low + (high - low) * NextDouble());
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>A float32 tensor of N(mean, std²) values.</summary>
    public Tensor Normal(ReadOnlySpan<int> shape, double mean = 0, double std = 1, Device? device = null)
    {
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(mean + std * NextNormal());
        return Tensor.FromArray(data, shape, device);
    }
}

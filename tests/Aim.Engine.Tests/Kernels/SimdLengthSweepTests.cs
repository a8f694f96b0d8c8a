using System.Runtime.Intrinsics;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// Length sweep (TensorPrimitives-style): every SIMD unary, unary-backward and binary kernel at each length
/// 0..256, so every vector body / padded-tail split is hit, compared element by element with the reference
/// run in float64 on the same inputs (the exact values; the float32 reference itself loses digits in
/// ln(1 + eˣ), 1 − tanh² and σ(1 − σ), which the SIMD kernels compute without cancellation).
/// </summary>
public class SimdLengthSweepTests
{
    private const int MaxLength = 256;
    private static readonly ReferenceKernels s_reference = new();
    private static readonly CpuKernels s_cpu = new();

    /// <summary>Without 256-bit SIMD the CPU kernels are the float32 reference itself: nothing to sweep.</summary>
    private static bool NoSimd => !Vector256.IsHardwareAccelerated && !Vector512.IsHardwareAccelerated;

    private static Tensor Input(Rng rng, UnaryOp op, int n)
        => op is UnaryOp.Log or UnaryOp.Sqrt ? rng.Uniform([n], 0.1, 4) : rng.Normal([n], 0, 3);

    private static Tensor F64(Tensor t)
    {
        var d = Tensor.Empty(t.Shape, DType.Float64);
        s_reference.Copy(t, d);
        return d;
    }

    private static void AssertClose(string what, double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            Assert.True(Math.Abs(e - a) <= 4e-6 * Math.Abs(e) + 1e-7, $"{what}[{i}] of {expected.Length}: {a} vs {e}");
        }
    }

    public static TheoryData<UnaryOp> UnaryOps() => [.. Enum.GetValues<UnaryOp>()];

    public static TheoryData<BinaryOp> BinaryOps() => [.. Enum.GetValues<BinaryOp>()];

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryAllLengths(UnaryOp op)
    {
        if (NoSimd) return;
        var rng = new Rng(11 + (ulong)op);
        for (int n = 0; n <= MaxLength; n++)
        {
            using var x = Input(rng, op, n);
            using var x64 = F64(x);
            using var expected = Tensor.Empty([n], DType.Float64);
            using var actual = Tensor.Empty([n]);
            s_reference.Unary(op, x64, expected);
            s_cpu.Unary(op, x, actual);
            AssertClose($"{op} n={n}", expected.ToArray<double>(), actual.ToArray<float>());
        }
    }

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryBackwardAllLengths(UnaryOp op)
    {
        if (NoSimd) return;
        var rng = new Rng(31 + (ulong)op);
        for (int n = 0; n <= MaxLength; n++)
        {
            using var x = Input(rng, op, n);
            using var g = rng.Normal([n]);
            using var x64 = F64(x);
            using var g64 = F64(g);
            using var expected = Tensor.Empty([n], DType.Float64);
            using var actual = Tensor.Empty([n]);
            s_reference.UnaryBackward(op, x64, g64, expected);
            s_cpu.UnaryBackward(op, x, g, actual);
            AssertClose($"d{op} n={n}", expected.ToArray<double>(), actual.ToArray<float>());
        }
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void BinaryAllLengths(BinaryOp op)
    {
        if (NoSimd) return;
        var rng = new Rng(71 + (ulong)op);
        for (int n = 0; n <= MaxLength; n++)
        {
            using var a = rng.Normal([n]);
            using var b = op == BinaryOp.Div ? rng.Uniform([n], 0.5, 2) : rng.Normal([n]);
            using var a64 = F64(a);
            using var b64 = F64(b);
            using var expected = Tensor.Empty([n], DType.Float64);
            using var actual = Tensor.Empty([n]);
            s_reference.Binary(op, a64, b64, expected);
            s_cpu.Binary(op, a, b, actual);
            AssertClose($"{op} n={n}", expected.ToArray<double>(), actual.ToArray<float>());
        }
    }

    [Fact]
    public void TanhNearZeroAndSoftplusThreshold()
    {
        if (NoSimd) return;
        float[] values = [0f, 1e-6f, -1e-4f, 0.01f, -0.0624f, 0.0626f, 0.3f, -2f, 9f, -30f, 19.99f, 20f, 20.01f, 35f, -90f];
        foreach (var op in new[] { UnaryOp.Tanh, UnaryOp.Softplus, UnaryOp.Silu, UnaryOp.Sigmoid })
        {
            using var x = Tensor.FromArray(values);
            using var x64 = F64(x);
            using var expected = Tensor.Empty([values.Length], DType.Float64);
            using var actual = Tensor.Empty([values.Length]);
            s_reference.Unary(op, x64, expected);
            s_cpu.Unary(op, x, actual);
            AssertClose(op.ToString(), expected.ToArray<double>(), actual.ToArray<float>());
        }
    }

    [Fact]
    public void BFloat16ConversionMatchesScalar()
    {
        var rng = new Rng(5);
        using var x = rng.Normal([1000], 0, 100);
        var data = x.ToArray<float>();
        data[3] = float.NaN;
        data[4] = float.PositiveInfinity;
        data[5] = -0f;
        data[6] = BitConverter.UInt32BitsToSingle(0x3F80_8000); // a tie: rounds to even
        using var src = Tensor.FromArray(data, [1000]);
        using var bf = Tensor.Empty([1000], DType.BFloat16);
        s_cpu.Copy(src, bf);
        var bits = bf.ToArray<BFloat16>();
        for (int i = 0; i < data.Length; i++) Assert.Equal(BFloat16.FromSingle(data[i]).Bits, bits[i].Bits);
        using var back = Tensor.Empty([1000]);
        s_cpu.Copy(bf, back);
        var round = back.ToArray<float>();
        for (int i = 0; i < data.Length; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(bits[i].ToSingle()), BitConverter.SingleToUInt32Bits(round[i]));
    }
}

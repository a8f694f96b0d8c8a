using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the VQ image kernels: Conv2d (stride 1/2, kernel 1/3/2x3, symmetric and asymmetric padding,
// pointwise, non-contiguous input, with and without bias), UpsampleNearest2x, L2Normalize and NearestCode.
public static partial class OpCases
{
    /// <summary>One Conv2d configuration: sizes, stride, pads (top, bottom, left, right), bias, and whether x arrives as a permuted view.</summary>
    private sealed record ConvCase(int N, int Cin, int Cout, int H, int W, int Kh, int Kw, int Stride,
        int PadTop, int PadBottom, int PadLeft, int PadRight, bool Bias = true, bool NonContiguous = false)
    {
        public override string ToString() =>
            $"N={N},Cin={Cin},Cout={Cout},H={H},W={W},k={Kh}x{Kw},s={Stride},pad={PadTop}{PadBottom}{PadLeft}{PadRight}"
            + (Bias ? ",bias" : "") + (NonContiguous ? ",noncontig" : "");
    }

    /// <summary>Conv2d at odd sizes, both strides, 1x1 / 3x3 / 2x3 kernels, the Downsample's (0,1,0,1) padding and a permuted input.</summary>
    public static IEnumerable<OpCase> Conv2d()
    {
        ConvCase[] cases =
        [
            new(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
            new(2, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1),
            new(1, 7, 3, 8, 8, 3, 3, 2, 0, 1, 0, 1),
            new(2, 3, 3, 7, 5, 3, 3, 2, 0, 1, 0, 1, Bias: false),
            new(2, 7, 7, 5, 5, 1, 1, 1, 0, 0, 0, 0),
            new(1, 3, 7, 7, 8, 1, 1, 2, 0, 0, 0, 0),
            new(2, 3, 5, 8, 7, 3, 3, 1, 2, 0, 1, 3, Bias: false),
            new(1, 7, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1),
            new(1, 3, 3, 5, 8, 3, 3, 2, 1, 1, 1, 1),
            new(2, 1, 3, 7, 7, 2, 3, 2, 1, 0, 0, 2),
            new(2, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1, NonContiguous: true),
            new(1, 7, 3, 8, 5, 1, 1, 1, 0, 0, 0, 0, NonContiguous: true),
        ];
        foreach (var c in cases)
        {
            yield return new OpCase("Conv2d", c.ToString(),
                rng =>
                {
                    // A non-contiguous x is made as (N, H, W, Cin) and permuted to (N, Cin, H, W) in Forward.
                    var x = c.NonContiguous ? Randn(rng, c.N, c.H, c.W, c.Cin) : Randn(rng, c.N, c.Cin, c.H, c.W);
                    var w = Randn(rng, c.Cout, c.Cin, c.Kh, c.Kw);
                    return c.Bias ? [x, w, Randn(rng, c.Cout)] : [x, w];
                },
                t =>
                {
                    var x = c.NonContiguous ? Ops.Permute(t[0], 0, 3, 1, 2) : t[0];
                    return [Ops.Conv2d(x, t[1], c.Bias ? t[2] : null, c.Stride, c.PadTop, c.PadBottom, c.PadLeft, c.PadRight)];
                }) { MaxNmse = 1e-10, GradSamples = 32 };
        }
        // A wider layer (31 -> 33 channels, 9x9): more than one SIMD block everywhere; gradient probed sparsely.
        var wide = new ConvCase(1, 31, 33, 9, 9, 3, 3, 1, 1, 1, 1, 1);
        yield return new OpCase("Conv2d", wide.ToString(),
            rng => [Randn(rng, 1, 31, 9, 9), Randn(rng, 33, 31, 3, 3), Randn(rng, 33)],
            t => [Ops.Conv2d(t[0], t[1], t[2], 1, 1, 1, 1, 1)]) { MaxNmse = 1e-10, GradSamples = 8 };
    }

    /// <summary>Nearest x2 upsampling at odd sizes, a 257-wide row and a transposed (non-contiguous) input.</summary>
    public static IEnumerable<OpCase> UpsampleNearest2x()
    {
        int[][] shapes = [[1, 1, 1, 1], [2, 3, 5, 7], [1, 7, 8, 8], [1, 1, 1, 257]];
        foreach (var s in shapes)
            yield return new OpCase("UpsampleNearest2x", $"N={s[0]},C={s[1]},H={s[2]},W={s[3]}",
                rng => [Randn(rng, s)], t => [Ops.UpsampleNearest2x(t[0])]);
        yield return new OpCase("UpsampleNearest2x", "N=2,C=3,H=7,W=5,transposed",
            rng => [Randn(rng, 2, 3, 5, 7)], t => [Ops.UpsampleNearest2x(Ops.Transpose(t[0], 2, 3))]);
    }

    /// <summary>F.normalize over the last dimension: odd row lengths, a 3-D input, a transposed view, and rows below eps.</summary>
    public static IEnumerable<OpCase> L2Normalize()
    {
        int[][] shapes = [[1, 1], [7, 8], [31, 7], [3, 257], [2, 5, 8]];
        foreach (var s in shapes)
            yield return new OpCase("L2Normalize", $"shape={Tensor.ShapeString(s)}",
                rng => [Randn(rng, s)], t => [Ops.L2Normalize(t[0], 1e-12)]);
        yield return new OpCase("L2Normalize", "7x31,transposed",
            rng => [Randn(rng, 31, 7)], t => [Ops.L2Normalize(Ops.Transpose(t[0], 0, 1), 1e-12)]);
        // Every row norm is below 0.14 and eps is 0.5: the divisor is the constant eps (the clamped branch).
        yield return new OpCase("L2Normalize", "5x7,eps-clamped",
            rng => [Rand(rng, -0.05, 0.05, 5, 7)], t => [Ops.L2Normalize(t[0], 0.5)]);
    }

    /// <summary>Nearest codebook row on L2-normalised rows (as the quantizer uses it): the indices must agree exactly.</summary>
    public static IEnumerable<OpCase> NearestCode()
    {
        int[][] sizes = [[1, 1, 1], [7, 31, 8], [64, 257, 8], [33, 16, 4]];
        foreach (var s in sizes)
        {
            int m = s[0], k = s[1], d = s[2];
            yield return new OpCase("NearestCode", $"M={m},K={k},D={d}",
                rng => [Randn(rng, m, d), Randn(rng, k, d)],
                t => [Ops.NearestCode(Ops.L2Normalize(t[0], 1e-12), Ops.L2Normalize(t[1], 1e-12))]) { MaxNmse = 0, HasGradient = false };
        }
        yield return new OpCase("NearestCode", "M=31,K=33,D=3,transposed-z",
            rng => [Randn(rng, 3, 31), Randn(rng, 33, 3)],
            t => [Ops.NearestCode(Ops.Transpose(t[0], 0, 1), t[1])]) { MaxNmse = 0, HasGradient = false };
    }
}

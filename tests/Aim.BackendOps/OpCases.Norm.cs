using Aim.Engine.Operations;

namespace Aim.BackendOps;

// provides: cases for RmsNorm, AddRmsNorm, GatedRmsNorm, LayerNorm and GroupNorm (forward vs reference, and
// float64 gradient checks of every input, weights included). Rows of 1, 7, 31 and 257 channels, several
// leading dimensions (the (D) weight broadcasts over them), and transposed (non-contiguous) inputs.
public static partial class OpCases
{
    private const double NormEps = 1e-5;

    /// <summary>RMSNorm over the last dimension.</summary>
    public static IEnumerable<OpCase> RmsNormCases()
    {
        foreach (int d in s_oddSizes)
            yield return new OpCase("RmsNorm", $"rows=3,D={d}",
                rng => [Randn(rng, 3, d), Rand(rng, 0.5, 1.5, d)],
                x => [Ops.RmsNorm(x[0], x[1], NormEps)]);
        yield return new OpCase("RmsNorm", "2x5x31",
            rng => [Randn(rng, 2, 5, 31), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.RmsNorm(x[0], x[1], NormEps)]);
        yield return new OpCase("RmsNorm", "1x257,scaled",
            rng => [Rand(rng, -40, 40, 1, 257), Rand(rng, 0.5, 1.5, 257)],
            x => [Ops.RmsNorm(x[0], x[1], NormEps)]);
        yield return new OpCase("RmsNorm", "7x31,transposed",
            rng => [Randn(rng, 31, 7), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.RmsNorm(Ops.Transpose(x[0], 0, 1), x[1], NormEps)]);
    }

    /// <summary>Fused residual add + RMSNorm: both outputs (normed and the residual sum) are compared and differentiated.</summary>
    public static IEnumerable<OpCase> AddRmsNormCases()
    {
        foreach (int d in s_oddSizes)
            yield return new OpCase("AddRmsNorm", $"rows=3,D={d},residual",
                rng => [Randn(rng, 3, d), Randn(rng, 3, d), Rand(rng, 0.5, 1.5, d)],
                x => NormPair(Ops.AddRmsNorm(x[0], x[1], x[2], NormEps)));
        yield return new OpCase("AddRmsNorm", "2x7x31,no-residual",
            rng => [Randn(rng, 2, 7, 31), Rand(rng, 0.5, 1.5, 31)],
            x => NormPair(Ops.AddRmsNorm(x[0], null, x[1], NormEps)));
        yield return new OpCase("AddRmsNorm", "1x257,no-residual",
            rng => [Randn(rng, 1, 257), Rand(rng, 0.5, 1.5, 257)],
            x => NormPair(Ops.AddRmsNorm(x[0], null, x[1], NormEps)));
        yield return new OpCase("AddRmsNorm", "7x31,transposed-hidden",
            rng => [Randn(rng, 31, 7), Randn(rng, 7, 31), Rand(rng, 0.5, 1.5, 31)],
            x => NormPair(Ops.AddRmsNorm(Ops.Transpose(x[0], 0, 1), x[1], x[2], NormEps)));
        yield return new OpCase("AddRmsNorm", "normed-only-used",
            rng => [Randn(rng, 5, 31), Randn(rng, 5, 31), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.AddRmsNorm(x[0], x[1], x[2], NormEps).Normed]);
        yield return new OpCase("AddRmsNorm", "residual-only-used",
            rng => [Randn(rng, 5, 31), Randn(rng, 5, 31), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.AddRmsNorm(x[0], x[1], x[2], NormEps).Residual]);
    }

    private static Engine.Tensors.Tensor[] NormPair((Engine.Tensors.Tensor Normed, Engine.Tensors.Tensor Residual) r) => [r.Normed, r.Residual];

    /// <summary>Mamba-2 gated RMSNorm (norm_before_gate = False), one group per row and several groups per row.</summary>
    public static IEnumerable<OpCase> GatedRmsNormCases()
    {
        foreach (int d in s_oddSizes)
            yield return new OpCase("GatedRmsNorm", $"rows=3,D={d},group={d}",
                rng => [Randn(rng, 3, d), Randn(rng, 3, d), Rand(rng, 0.5, 1.5, d)],
                x => [Ops.GatedRmsNorm(x[0], x[1], x[2], NormEps, d)]);
        yield return new OpCase("GatedRmsNorm", "2x3x62,group=31",
            rng => [Randn(rng, 2, 3, 62), Randn(rng, 2, 3, 62), Rand(rng, 0.5, 1.5, 62)],
            x => [Ops.GatedRmsNorm(x[0], x[1], x[2], NormEps, 31)]);
        yield return new OpCase("GatedRmsNorm", "5x21,group=7",
            rng => [Randn(rng, 5, 21), Randn(rng, 5, 21), Rand(rng, 0.5, 1.5, 21)],
            x => [Ops.GatedRmsNorm(x[0], x[1], x[2], NormEps, 7)]);
        yield return new OpCase("GatedRmsNorm", "7x1,group=1",
            rng => [Randn(rng, 7, 1), Randn(rng, 7, 1), Rand(rng, 0.5, 1.5, 1)],
            x => [Ops.GatedRmsNorm(x[0], x[1], x[2], NormEps, 1)]);
        yield return new OpCase("GatedRmsNorm", "7x257,group=257",
            rng => [Randn(rng, 7, 257), Randn(rng, 7, 257), Rand(rng, 0.5, 1.5, 257)],
            x => [Ops.GatedRmsNorm(x[0], x[1], x[2], NormEps, 257)]);
        yield return new OpCase("GatedRmsNorm", "7x31,transposed-x-and-z",
            rng => [Randn(rng, 31, 7), Randn(rng, 31, 7), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.GatedRmsNorm(Ops.Transpose(x[0], 0, 1), Ops.Transpose(x[1], 0, 1), x[2], NormEps, 31)]);
    }

    /// <summary>LayerNorm over the last dimension, with and without affine parameters.</summary>
    public static IEnumerable<OpCase> LayerNormCases()
    {
        foreach (int d in s_oddSizes)
            yield return new OpCase("LayerNorm", $"rows=3,D={d},affine",
                rng => [Randn(rng, 3, d), Rand(rng, 0.5, 1.5, d), Randn(rng, d)],
                x => [Ops.LayerNorm(x[0], x[1], x[2], NormEps)]);
        yield return new OpCase("LayerNorm", "2x5x31,no-affine",
            rng => [Randn(rng, 2, 5, 31)],
            x => [Ops.LayerNorm(x[0], null, null, NormEps)]);
        yield return new OpCase("LayerNorm", "4x31,weight-only",
            rng => [Randn(rng, 4, 31), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.LayerNorm(x[0], x[1], null, NormEps)]);
        yield return new OpCase("LayerNorm", "4x31,bias-only,offset",
            rng => [Rand(rng, 10, 14, 4, 31), Randn(rng, 31)],
            x => [Ops.LayerNorm(x[0], null, x[1], NormEps)]);
        yield return new OpCase("LayerNorm", "7x31,transposed",
            rng => [Randn(rng, 31, 7), Rand(rng, 0.5, 1.5, 31), Randn(rng, 31)],
            x => [Ops.LayerNorm(Ops.Transpose(x[0], 0, 1), x[1], x[2], NormEps)]);
    }

    /// <summary>GroupNorm over (N, C, *spatial) with several group counts and spatial ranks.</summary>
    public static IEnumerable<OpCase> GroupNormCases()
    {
        const double eps = 1e-6;
        (int[] Shape, int Groups)[] shapes =
        [
            ([1, 1, 1], 1), ([2, 7, 1], 7), ([2, 4, 7], 2), ([1, 6, 3, 5], 3), ([2, 8, 31], 4), ([1, 2, 257], 1), ([3, 4], 2),
        ];
        foreach (var (shape, groups) in shapes)
        {
            int c = shape[1];
            yield return new OpCase("GroupNorm", $"{string.Join('x', shape)},groups={groups}",
                rng => [Randn(rng, shape), Rand(rng, 0.5, 1.5, c), Randn(rng, c)],
                x => [Ops.GroupNorm(x[0], groups, x[1], x[2], eps)]);
        }
        yield return new OpCase("GroupNorm", "2x4x7,channels-last-view",
            rng => [Randn(rng, 2, 7, 4), Rand(rng, 0.5, 1.5, 4), Randn(rng, 4)],
            x => [Ops.GroupNorm(Ops.Transpose(x[0], 1, 2), 2, x[1], x[2], eps)]);
    }
}

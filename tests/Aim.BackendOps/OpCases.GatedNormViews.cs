using Aim.Engine.Operations;

namespace Aim.BackendOps;

// provides: GatedRmsNorm cases whose x and z are row views (IKernels.Norm.cs, NormChecks.RowStride) that the kernels read
// in place, forward and backward: z a column block of a wider (B, L, W) tensor as in a Mamba-2 layer (z | xBC | dt of
// in_proj's output), x and z both blocks of one tensor at odd offsets, a single row, and a view whose leading dimensions
// do not collapse into one row stride (Ops copies it). D 1, 7, 31, 257, one group or several. The float64 gradient check
// differentiates through the Narrow into the whole parent tensor, so the gradient lands in the slice's columns only.
public static partial class OpCases
{
    /// <summary>Gated RMSNorm of strided x / z views (the training's z slice of in_proj's output).</summary>
    public static IEnumerable<OpCase> GatedRmsNormViewCases()
    {
        foreach (int d in s_oddSizes)
        {
            // (2, 3, d + 12): z = columns 0 .. d-1 (the z | xBC | dt split's first block), x contiguous.
            yield return new OpCase("GatedRmsNorm", $"2x3,D={d},z-column-block",
                rng => [Randn(rng, 2, 3, d), Randn(rng, 2, 3, d + 12), Rand(rng, 0.5, 1.5, d)],
                x => [Ops.GatedRmsNorm(x[0], Ops.Narrow(x[1], -1, 0, d), x[2], NormEps, d)]);
            // x and z from one (3, 2d + 5) tensor: z at column 1, x at column d + 4 (misaligned row starts).
            yield return new OpCase("GatedRmsNorm", $"3,D={d},x-and-z-blocks-of-one-tensor",
                rng => [Randn(rng, 3, 2 * d + 5), Rand(rng, 0.5, 1.5, d)],
                x => [Ops.GatedRmsNorm(Ops.Narrow(x[0], -1, d + 4, d), Ops.Narrow(x[0], -1, 1, d), x[1], NormEps, d)]);
        }
        yield return new OpCase("GatedRmsNorm", "2x5x62,group=31,z-column-block",
            rng => [Randn(rng, 2, 5, 62), Randn(rng, 2, 5, 62 + 31 + 7), Rand(rng, 0.5, 1.5, 62)],
            x => [Ops.GatedRmsNorm(x[0], Ops.Narrow(x[1], -1, 31, 62), x[2], NormEps, 31)]);
        yield return new OpCase("GatedRmsNorm", "1x1x257,group=257,single-row-block",
            rng => [Randn(rng, 1, 1, 257), Randn(rng, 1, 1, 300), Rand(rng, 0.5, 1.5, 257)],
            x => [Ops.GatedRmsNorm(x[0], Ops.Narrow(x[1], -1, 40, 257), x[2], NormEps, 257)]);
        // Rows 1..3 of a (2, 5, 31) tensor: (2, 3, 31) with strides (155, 31, 1) is not one row stride, so Ops copies it.
        yield return new OpCase("GatedRmsNorm", "2x3x31,group=31,uncollapsible-z",
            rng => [Randn(rng, 2, 3, 31), Randn(rng, 2, 5, 31), Rand(rng, 0.5, 1.5, 31)],
            x => [Ops.GatedRmsNorm(x[0], Ops.Narrow(x[1], 1, 1, 3), x[2], NormEps, 31)]);
    }
}

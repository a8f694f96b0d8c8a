using Aim.Engine.Operations;

namespace Aim.BackendOps;

// provides: the Mamba-2 split of a projection's output into z | xBC | dt with a non-leaf parent, so that the backward
// hands GatedRmsNorm's dz and CausalConv1d's dx their slots in the parent's gradient (Tape.GradientSlot): the kernels
// write row views / strided views there instead of contiguous buffers that the tape copies. Widths 1, 7, 31, 257 for z
// and xBC, the dt block used or left without a gradient (its columns then stay zero), z read twice (no slot), and the
// scan's x | B | C reshaped slices of one tensor.
public static partial class OpCases
{
    /// <summary>GatedRmsNorm and CausalConv1d on slices of one computed tensor, forward and float64 gradients.</summary>
    public static IEnumerable<OpCase> GradientSlotCases()
    {
        foreach (int d in s_oddSizes)
        {
            int c = d == 257 ? 9 : d + 2, h = 3, w = d + c + h;
            // inputs: u (2, 5, w), scale (w), y (2, 5, d), norm weight (d), conv weight (c, 4), conv bias (c)
            Func<Aim.Engine.Random.Rng, Aim.Engine.Tensors.Tensor[]> inputs = rng =>
                [Randn(rng, 2, 5, w), Rand(rng, 0.5, 1.5, w), Randn(rng, 2, 5, d), Rand(rng, 0.5, 1.5, d), Rand(rng, -0.5, 0.5, c, 4), Rand(rng, -0.5, 0.5, c)];
            yield return new OpCase("GradientSlots", $"2x5,z={d},xbc={c},dt={h}", inputs, t =>
            {
                var p = Ops.Mul(t[0], t[1]);                                     // (2, 5, w), not a leaf
                var z = Ops.Narrow(p, -1, 0, d);
                var xbc = Ops.Narrow(p, -1, d, c);
                var dt = Ops.Narrow(p, -1, d + c, h);
                return [Ops.GatedRmsNorm(t[2], z, t[3], NormEps, d), Ops.CausalConv1d(xbc, t[4], t[5], silu: true), Ops.Softplus(dt)];
            }) { GradSamples = 32 };
            yield return new OpCase("GradientSlots", $"2x5,z={d},xbc={c},dt-unused", inputs, t =>
            {
                var p = Ops.Mul(t[0], t[1]);
                return [Ops.GatedRmsNorm(t[2], Ops.Narrow(p, -1, 0, d), t[3], NormEps, d), Ops.CausalConv1d(Ops.Narrow(p, -1, d, c), t[4], t[5], silu: true)];
            }) { GradSamples = 32 };
        }
        // x | B | C of one computed tensor, each reshaped to the scan's layout (Mamba's conv output split): the scan's
        // backward writes dx, dB and dC into the parent's gradient through the Reshape views.
        (int B, int L, int H, int G, int P, int N, int Chunk)[] scans = [(2, 7, 2, 1, 3, 4, 4), (1, 31, 4, 2, 7, 5, 8)];
        foreach (var (bsz, l, h, g, hp, n, chunk) in scans)
        {
            int w = h * hp + 2 * g * n + 2;
            yield return new OpCase("GradientSlots", $"scan,B={bsz},L={l},H={h},G={g},P={hp},N={n},chunk={chunk}",
                rng => [Randn(rng, bsz, l, w), Rand(rng, 0.5, 1.5, w), RandDt(rng, bsz, l, h), RandA(rng, h), Randn(rng, h)], t =>
                {
                    var p = Ops.Mul(t[0], t[1]);
                    var x = Ops.Reshape(Ops.Narrow(p, -1, 0, h * hp), bsz, l, h, hp);
                    var bm = Ops.Reshape(Ops.Narrow(p, -1, h * hp, g * n), bsz, l, g, n);
                    var cm = Ops.Reshape(Ops.Narrow(p, -1, h * hp + g * n, g * n), bsz, l, g, n);
                    var (y, final) = Ops.SsdScan(x, t[2], t[3], bm, cm, t[4], chunk, null);
                    return [y, final];
                }) { GradSamples = 24 };
        }
        yield return new OpCase("GradientSlots", "2x5,z=31,z-read-twice",
            rng => [Randn(rng, 2, 5, 40), Rand(rng, 0.5, 1.5, 40), Randn(rng, 2, 5, 31), Rand(rng, 0.5, 1.5, 31)], t =>
            {
                var z = Ops.Narrow(Ops.Mul(t[0], t[1]), -1, 4, 31);
                return [Ops.GatedRmsNorm(t[2], z, t[3], NormEps, 31), Ops.Mul(z, z)];
            }) { GradSamples = 32 };
    }
}

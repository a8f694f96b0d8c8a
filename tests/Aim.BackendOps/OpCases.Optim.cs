using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the optimizer family (AdamWStep, EmaUpdate, SquaredNormPartials): sizes 1, 7, 31, 257 and a large one that
// spans several thread chunks, with and without weight decay, early and late steps, a scaled gradient and a
// transposed (non-contiguous) gradient view. The updates are in place, so each forward works on clones.
public static partial class OpCases
{
    /// <summary>AdamW updates; outputs are the new parameter and both moments.</summary>
    public static IEnumerable<OpCase> OptimAdamWCases()
    {
        int[][] sizes = [[1], [7], [31], [257], [3, 31], [70001]];
        foreach (var s in sizes)
        {
            foreach (var (step, wd, scale) in new[] { (1L, 0.0, 1.0), (10L, 0.05, 0.37) })
            {
                var hyper = new AdamWHyper(3e-3, 0.9, 0.95, 1e-8, wd, step, scale);
                yield return new OpCase("AdamWStep", $"n={string.Join('x', s)},t={step},wd={wd},scale={scale}",
                    rng => [Randn(rng, s), Randn(rng, s), Scaled(Randn(rng, s), 0.1), Rand(rng, 0, 0.02, s)],
                    x => AdamWForward(x[0], x[1], x[2], x[3], hyper)) { HasGradient = false, MaxNmse = 1e-12 };
            }
        }
        var h = new AdamWHyper(1e-2, 0.9, 0.95, 1e-8, 0.1, 3, 1);
        yield return new OpCase("AdamWStep", "n=31x7,transposed-grad",
            rng => [Randn(rng, 7, 31), Randn(rng, 31, 7), Scaled(Randn(rng, 7, 31), 0.1), Rand(rng, 0, 0.02, 7, 31)],
            x => AdamWForward(x[0], Ops.Transpose(x[1], 0, 1), x[2], x[3], h)) { HasGradient = false, MaxNmse = 1e-12 };
        yield return new OpCase("AdamWStep", "n=257,zero-grad",
            rng => [Randn(rng, 257), Tensor.Zeros([257]), Tensor.Zeros([257]), Tensor.Zeros([257])],
            x => AdamWForward(x[0], x[1], x[2], x[3], h)) { HasGradient = false, MaxNmse = 1e-12 };
    }

    /// <summary>EMA updates of the shadow weights.</summary>
    public static IEnumerable<OpCase> OptimEmaCases()
    {
        foreach (int n in new[] { 1, 7, 31, 257, 70001 })
            foreach (double decay in new[] { 0.9999, 0.5 })
                yield return new OpCase("EmaUpdate", $"n={n},decay={decay}",
                    rng => [Randn(rng, n), Randn(rng, n)],
                    x =>
                    {
                        var ema = Ops.Clone(x[0]);
                        Ops.EmaUpdate(ema, x[1], decay);
                        return [ema];
                    }) { HasGradient = false, MaxNmse = 1e-12 };
        yield return new OpCase("EmaUpdate", "n=7x31,transposed-source",
            rng => [Randn(rng, 7, 31), Randn(rng, 31, 7)],
            x =>
            {
                var ema = Ops.Clone(x[0]);
                Ops.EmaUpdate(ema, Ops.Transpose(x[1], 0, 1), 0.9);
                return [ema];
            }) { HasGradient = false, MaxNmse = 1e-12 };
    }

    /// <summary>Partial sums of squares: chunk counts below, equal to and above the size (empty chunks), a transposed view.</summary>
    public static IEnumerable<OpCase> OptimSquaredNormCases()
    {
        int[][] sizes = [[1], [7], [31], [257], [3, 31], [70001]];
        foreach (var s in sizes)
            foreach (int k in new[] { 1, 3, 7, 128 })
                yield return new OpCase("SquaredNormPartials", $"n={string.Join('x', s)},k={k}",
                    rng => [Randn(rng, s)],
                    x => [SquaredNormPartials(x[0], k)]) { HasGradient = false, MaxNmse = 1e-12 };
        yield return new OpCase("SquaredNormPartials", "n=31x7,k=5,transposed",
            rng => [Randn(rng, 7, 31)],
            x => [SquaredNormPartials(Ops.Transpose(x[0], 0, 1), 5)]) { HasGradient = false, MaxNmse = 1e-12 };
    }

    private static Tensor SquaredNormPartials(Tensor x, int k)
    {
        var output = Tensor.Empty([k], x.DType, x.Device);
        Ops.SquaredNormPartials(x, output);
        return output;
    }

    private static Tensor Scaled(Tensor t, double s) => Ops.Scale(t, s);

    private static Tensor[] AdamWForward(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWHyper hyper)
    {
        Tensor p = Ops.Clone(param), mc = Ops.Clone(m), vc = Ops.Clone(v);
        Ops.AdamWStep(p, grad, mc, vc, hyper);
        return [p, mc, vc];
    }
}

using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the optimizer list kernels (AdamWStepMany, SquaredNormPartialsMany) and GradClipScale. Lists mix
// sizes 1, 7, 31, 257, 3x31, 70001 and 40x1000 (several blocks of a GPU tile), give every tensor different hyper-parameters,
// run with and without a gradient-scale tensor and with a transposed gradient; long lists (100 and 150 tensors, an empty
// tensor among them) span several GPU launches. The "bit-identical" cases return the difference between the list
// kernel and the single-tensor kernel per tensor with MaxNmse 0: every element must match exactly, on every backend.
public static partial class OpCases
{
    private static int[][] ManySizes => [[1], [7], [31], [257], [3, 31], [70001], [40, 1000]];

    /// <summary>Hyper-parameters that differ per tensor in every field (step, lr, betas, eps, decay, scale).</summary>
    private static AdamWHyper ManyHyper(int i, bool unitScale) => new(
        Lr: 1e-3 * (1 + i % 5), Beta1: 0.9 - 0.02 * (i % 3), Beta2: 0.95 + 0.01 * (i % 4), Eps: 1e-8 * (1 + i % 2),
        WeightDecay: i % 2 == 0 ? 0.05 * (1 + i % 3) : 0, Step: 1 + 3 * i, GradScale: unitScale ? 1 : 0.5 + 0.125 * (i % 4));

    /// <summary>Sizes of a long list: 1 .. 300 elements, one empty tensor.</summary>
    private static int[][] LongList(int count) => [.. Enumerable.Range(0, count).Select(i => i == count / 2 ? new[] { 0 } : new[] { 1 + i * 37 % 300 })];

    /// <summary>AdamWStepMany against the reference, and bit for bit against AdamWStep per tensor.</summary>
    public static IEnumerable<OpCase> OptimAdamWManyCases()
    {
        const float deviceScale = 0.37f;
        var lists = new (string Name, int[][] Sizes)[] { ("mixed", ManySizes), ("100-tensors", LongList(100)) };
        foreach (var (name, sizes) in lists)
            foreach (bool withScale in new[] { false, true })
            {
                int n = sizes.Length;
                var hypers = Enumerable.Range(0, n).Select(i => ManyHyper(i, withScale)).ToArray();
                string p = $"{name},device-scale={withScale}";
                Tensor[] Inputs(Rng rng)
                {
                    var t = new List<Tensor>();
                    t.AddRange(sizes.Select(s => Randn(rng, s)));                                   // parameters
                    t.AddRange(sizes.Select(s => Randn(rng, s)));                                   // gradients
                    t.AddRange(sizes.Select(s => Scaled(Randn(rng, s), 0.1)));                       // m
                    t.AddRange(sizes.Select(s => Rand(rng, 0, 0.02, s)));                           // v
                    if (withScale) t.Add(Tensor.FromArray(new[] { deviceScale }, [1]));
                    return [.. t];
                }
                yield return new OpCase("AdamWStepMany", p, Inputs, x => AdamWMany(x, n, hypers, withScale, transposeMatrixGrads: true))
                    { HasGradient = false, MaxNmse = 1e-12 };
                yield return new OpCase("AdamWStepMany", p + ",bit-identical", Inputs, x =>
                {
                    var many = AdamWMany(x, n, hypers, withScale, transposeMatrixGrads: false);
                    var single = new Tensor[3 * n];
                    for (int i = 0; i < n; i++)
                    {
                        Tensor pc = Ops.Clone(x[i]), mc = Ops.Clone(x[2 * n + i]), vc = Ops.Clone(x[3 * n + i]);
                        var h = withScale ? hypers[i] with { GradScale = hypers[i].GradScale * deviceScale } : hypers[i];
                        Ops.AdamWStep(pc, x[n + i], mc, vc, h);
                        (single[i], single[n + i], single[2 * n + i]) = (pc, mc, vc);
                    }
                    return [.. many.Zip(single, Ops.Sub)];
                }) { HasGradient = false, MaxNmse = 0 };
            }
    }

    /// <summary>
    /// AdamWStepMany on clones of x = [params (n), grads (n), m (n), v (n), scale?]; outputs [params, m, v]. Matrix
    /// gradients are passed as transposed views of their transposes when <paramref name="transposeMatrixGrads"/>.
    /// </summary>
    private static Tensor[] AdamWMany(Tensor[] x, int n, AdamWHyper[] hypers, bool withScale, bool transposeMatrixGrads)
    {
        var p = x[..n].Select(Ops.Clone).ToList();
        var g = x[n..(2 * n)].Select(t => transposeMatrixGrads && t.Rank == 2 ? Ops.Transpose(Ops.Contiguous(Ops.Transpose(t, 0, 1)), 0, 1) : t).ToList();
        var m = x[(2 * n)..(3 * n)].Select(Ops.Clone).ToList();
        var v = x[(3 * n)..(4 * n)].Select(Ops.Clone).ToList();
        Ops.AdamWStepMany(p, g, m, v, hypers, withScale ? x[4 * n] : null);
        return [.. p, .. m, .. v];
    }

    /// <summary>SquaredNormPartialsMany against the reference, and bit for bit against SquaredNormPartials per tensor.</summary>
    public static IEnumerable<OpCase> OptimSquaredNormManyCases()
    {
        int[] ks = [1, 3, 7, 128, 2];
        var lists = new (string Name, int[][] Sizes)[] { ("mixed", ManySizes), ("150-tensors", LongList(150)) };
        foreach (var (name, sizes) in lists)
        {
            var counts = Enumerable.Range(0, sizes.Length).Select(i => ks[i % ks.Length]).ToArray();
            Tensor[] Inputs(Rng rng) => [.. sizes.Select(s => Randn(rng, s))];
            yield return new OpCase("SquaredNormPartialsMany", name, Inputs, x => [SquaredNormMany(x, counts)])
                { HasGradient = false, MaxNmse = 1e-12 };
            yield return new OpCase("SquaredNormPartialsMany", name + ",bit-identical", Inputs, x =>
            {
                var single = Tensor.Empty([counts.Sum()], x[0].DType, x[0].Device);
                int at = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    Ops.SquaredNormPartials(x[i], Ops.Narrow(single, 0, at, counts[i]));
                    at += counts[i];
                }
                return [Ops.Sub(SquaredNormMany(x, counts), single)];
            }) { HasGradient = false, MaxNmse = 0 };
        }
        yield return new OpCase("SquaredNormPartialsMany", "transposed",
            rng => [Randn(rng, 7, 31), Randn(rng, 257)],
            x => [SquaredNormMany([Ops.Transpose(x[0], 0, 1), x[1]], [5, 3])]) { HasGradient = false, MaxNmse = 1e-12 };
    }

    private static Tensor SquaredNormMany(Tensor[] xs, int[] counts)
    {
        var output = Tensor.Empty([counts.Sum()], xs[0].DType, xs[0].Device);
        Ops.SquaredNormPartialsMany(xs, counts, output);
        return output;
    }

    /// <summary>GradClipScale: no clipping, clipping, a norm under the threshold, a zero sum. Exact (the double formula rounded once).</summary>
    public static IEnumerable<OpCase> OptimGradClipScaleCases()
    {
        foreach (var (sum, gradScale, maxNorm) in new[] { (25f, 1.0, 0.0), (25f, 0.5, 1.0), (3.7f, 0.25, 100.0), (0f, 1.0, 1.0), (1234.5f, 1.0 / 3, 1.0) })
            yield return new OpCase("GradClipScale", $"sum={sum},scale={gradScale},max={maxNorm}",
                _ => [Tensor.FromArray(new[] { sum }, [1])],
                x => [Ops.GradClipScale(x[0], gradScale, maxNorm)]) { HasGradient = false, MaxNmse = 0 };
    }
}

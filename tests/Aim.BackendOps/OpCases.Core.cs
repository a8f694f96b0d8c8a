using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the core kernels (elementwise, broadcast, views, reductions, GEMM).
public static partial class OpCases
{
    private static readonly int[] s_oddSizes = [1, 7, 31, 257];

    /// <summary>Unary activations over odd lengths and a non-contiguous view.</summary>
    public static IEnumerable<OpCase> Unary()
    {
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            bool positive = op is UnaryOp.Log or UnaryOp.Sqrt;
            foreach (int n in s_oddSizes)
                yield return new OpCase($"Unary.{op}", $"n={n}",
                    rng => [positive ? Rand(rng, 0.5, 3, n) : Randn(rng, n)],
                    x => [Ops.Unary(op, x[0])]);
            yield return new OpCase($"Unary.{op}", "7x31,transposed",
                rng => [positive ? Rand(rng, 0.5, 3, 31, 7) : Randn(rng, 31, 7)],
                x => [Ops.Unary(op, Ops.Transpose(x[0], 0, 1))]);
        }
        // Softplus on both sides of its pass-through threshold (20).
        yield return new OpCase("Unary.Softplus", "threshold",
            rng => [Tensor.FromArray([-30f, -5f, 0.3f, 19.5f, 21f, 35f])],
            x => [Ops.Softplus(x[0])]);
    }

    /// <summary>Binary ops: same shape, row and column broadcast, non-contiguous.</summary>
    public static IEnumerable<OpCase> Binary()
    {
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            Func<Tensor, Tensor, Tensor> f = op switch
            {
                BinaryOp.Add => Ops.Add,
                BinaryOp.Sub => Ops.Sub,
                BinaryOp.Mul => Ops.Mul,
                _ => Ops.Div,
            };
            bool div = op == BinaryOp.Div;
            foreach (int n in s_oddSizes)
                yield return new OpCase($"Binary.{op}", $"n={n}",
                    rng => [Randn(rng, n), div ? Rand(rng, 0.5, 2, n) : Randn(rng, n)],
                    x => [f(x[0], x[1])]);
            yield return new OpCase($"Binary.{op}", "3x7x31+31,broadcast-row",
                rng => [Randn(rng, 3, 7, 31), div ? Rand(rng, 0.5, 2, 31) : Randn(rng, 31)],
                x => [f(x[0], x[1])]);
            yield return new OpCase($"Binary.{op}", "3x7x31+3x7x1,broadcast-col",
                rng => [Randn(rng, 3, 7, 31), div ? Rand(rng, 0.5, 2, 3, 7, 1) : Randn(rng, 3, 7, 1)],
                x => [f(x[0], x[1])]);
            yield return new OpCase($"Binary.{op}", "31x7,transposed-both",
                rng => [Randn(rng, 7, 31), div ? Rand(rng, 0.5, 2, 7, 31) : Randn(rng, 7, 31)],
                x => [f(Ops.Transpose(x[0], 0, 1), Ops.Transpose(x[1], 0, 1))]);
            // Column slices of wider rows (the mixer's z | xBC | dt split): rows contiguous, strided across rows.
            yield return new OpCase($"Binary.{op}", "3x5x33,column-slices",
                rng => [Randn(rng, 3, 5, 40), div ? Rand(rng, 0.5, 2, 3, 5, 37) : Randn(rng, 3, 5, 37)],
                x => [f(Ops.Narrow(x[0], 2, 7, 33), Ops.Narrow(x[1], 2, 1, 33))]);
        }
    }

    /// <summary>Affine, sums, concat and slicing.</summary>
    public static IEnumerable<OpCase> Shape()
    {
        yield return new OpCase("Affine", "n=257", rng => [Randn(rng, 257)], x => [Ops.Affine(x[0], 1.5, -0.25)]);
        yield return new OpCase("Sum", "all,7x31", rng => [Randn(rng, 7, 31)], x => [Ops.Sum(x[0])]);
        yield return new OpCase("Sum", "dim1,3x257x7", rng => [Randn(rng, 3, 257, 7)], x => [Ops.Sum(x[0], 1)]);
        yield return new OpCase("Concat", "dim1", rng => [Randn(rng, 3, 7), Randn(rng, 3, 1), Randn(rng, 3, 31)],
            x => [Ops.Concat(x, 1)]);
        yield return new OpCase("Narrow", "dim1,noncontig", rng => [Randn(rng, 5, 31)],
            x => [Ops.Mul(Ops.Narrow(x[0], 1, 3, 7), Ops.Narrow(x[0], 1, 10, 7))]);
        yield return new OpCase("Cast", "bf16-roundtrip", rng => [Randn(rng, 257)],
            x => [Ops.Cast(Ops.Cast(x[0], DType.BFloat16), DType.Float32)]) { HasGradient = false };
    }

    /// <summary>Matrix products in every transpose form, batched and shared, at odd sizes.</summary>
    public static IEnumerable<OpCase> MatMul()
    {
        int[][] sizes = [[1, 1, 1], [7, 31, 1], [31, 7, 257], [257, 33, 65], [64, 48, 96]];
        foreach (var s in sizes)
        {
            int m = s[0], k = s[1], n = s[2];
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return new OpCase("MatMul", $"M={m},K={k},N={n},tA={ta},tB={tb}",
                        rng => [Randn(rng, ta ? [k, m] : [m, k]), Randn(rng, tb ? [n, k] : [k, n])],
                        x => [Ops.MatMul(x[0], x[1], ta, tb)]) { MaxNmse = 1e-9, GradSamples = 24 };
        }
        yield return new OpCase("MatMul", "batched,B=3,M=7,K=31,N=5,sharedB",
            rng => [Randn(rng, 3, 7, 31), Randn(rng, 31, 5)], x => [Ops.MatMul(x[0], x[1])]);
        yield return new OpCase("MatMul", "batched,B=2,M=5,K=7,N=3,tB",
            rng => [Randn(rng, 2, 5, 7), Randn(rng, 2, 3, 7)], x => [Ops.MatMul(x[0], x[1], false, true)]);
        yield return new OpCase("Linear", "x=3x7x31,W=5x31,bias",
            rng => [Randn(rng, 3, 7, 31), Randn(rng, 5, 31), Randn(rng, 5)], x => [Ops.Linear(x[0], x[1], x[2])]);
        yield return new OpCase("MatMul", "noncontig-input",
            rng => [Randn(rng, 31, 7), Randn(rng, 31, 9)], x => [Ops.MatMul(Ops.Transpose(x[0], 0, 1), x[1])]);
    }
}

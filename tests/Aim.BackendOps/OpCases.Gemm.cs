using Aim.Engine.Operations;

namespace Aim.BackendOps;

// provides: GEMM cases for the blocked/packed SGEMM and its skinny x·Wᵀ path: every mix of 1, 7, 31, 257 in
// the Linear form, every transpose at sizes off the 12×32 micro-tile, and sizes crossing the K block (256),
// the row block (192), the column tile (1024) and the skinny-path limit (48 rows); batched with shared operands.
public static partial class OpCases
{
    /// <summary>x (M, K) · W (N, K)ᵀ for every M, N, K in {1, 7, 31, 257}.</summary>
    public static IEnumerable<OpCase> GemmLinearForm()
    {
        foreach (int m in s_oddSizes)
            foreach (int n in s_oddSizes)
                foreach (int k in s_oddSizes)
                    yield return new OpCase("Gemm", $"M={m},N={n},K={k},tB",
                        rng => [Randn(rng, m, k), Randn(rng, n, k)],
                        x => [Ops.MatMul(x[0], x[1], false, true)]) { HasGradient = false };
    }

    /// <summary>All transpose forms at edge sizes, block-crossing sizes and batched shared operands.</summary>
    public static IEnumerable<OpCase> GemmEdges()
    {
        int[][] sizes =
        [
            [7, 257, 31], [257, 7, 31], [31, 257, 7], [1, 31, 257], [13, 33, 17],
            [200, 70, 600], [16, 100, 300], [17, 100, 300], [48, 50, 100], [49, 50, 100], [3, 1100, 40], [60, 1100, 40],
        ];
        foreach (var s in sizes)
        {
            int m = s[0], n = s[1], k = s[2];
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return new OpCase("Gemm", $"M={m},N={n},K={k},tA={ta},tB={tb}",
                        rng => [Randn(rng, ta ? [k, m] : [m, k]), Randn(rng, tb ? [n, k] : [k, n])],
                        x => [Ops.MatMul(x[0], x[1], ta, tb)]) { HasGradient = false };
        }
        foreach (bool tb in new[] { false, true })
        {
            yield return new OpCase("Gemm", $"batched,B=3,M=31,K=40,N=45,sharedB,tB={tb}",
                rng => [Randn(rng, 3, 31, 40), Randn(rng, tb ? [45, 40] : [40, 45])],
                x => [Ops.MatMul(x[0], x[1], false, tb)]) { HasGradient = false };
            yield return new OpCase("Gemm", $"batched,B=3,M=5,K=33,N=70,sharedB,tB={tb}",
                rng => [Randn(rng, 3, 5, 33), Randn(rng, tb ? [70, 33] : [33, 70])],
                x => [Ops.MatMul(x[0], x[1], false, tb)]) { HasGradient = false };
            yield return new OpCase("Gemm", $"batched,B=2,M=7,K=31,N=257,sharedA,tA,tB={tb}",
                rng => [Randn(rng, 31, 7), Randn(rng, tb ? [2, 257, 31] : [2, 31, 257])],
                x => [Ops.MatMul(x[0], x[1], true, tb)]) { HasGradient = false };
            yield return new OpCase("Gemm", $"batched,B=4,M=9,K=20,N=35,tA,tB={tb}",
                rng => [Randn(rng, 4, 20, 9), Randn(rng, tb ? [4, 35, 20] : [4, 20, 35])],
                x => [Ops.MatMul(x[0], x[1], true, tb)]) { HasGradient = false };
        }
    }
}

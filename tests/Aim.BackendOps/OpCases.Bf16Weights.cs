using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for bf16-stored weights with f32 activations in MatMul and Embedding. The CPU and CUDA's skinny
// path widen the weights exactly (default limit); above CudaBf16ExactRows rows CUDA also rounds the activations to
// bf16 to use the tensor cores, so CUDA gets an NMSE limit of 1e-4: a relative rounding of at most 2^-9 per input
// gives about 1e-6, and a real fault gives about 1.
public static partial class OpCases
{
    /// <summary>
    /// The most rows at which CUDA multiplies bf16 weights with float32 activations (its skinny GEMM, CudaKernels'
    /// SkinnyRowLimit); above, cuBLAS takes bf16-rounded activations and the CUDA cases get the 1e-4 limit.
    /// </summary>
    private const int CudaBf16ExactRows = 4;

    /// <summary>x (M, K) · W(N, K)ᵀ with W stored in bf16, at decode row counts and odd sizes; and a bf16 table gather.</summary>
    public static IEnumerable<OpCase> Bf16Weights()
    {
        int[][] sizes = [[1, 31, 7], [2, 257, 33], [7, 768, 65], [16, 64, 257], [17, 33, 31], [2, 1, 1], [3, 1536, 768], [2, 2048, 33],
            [5, 40, 2201], [16, 31, 2113]];   // the last two: four columns a warp on an H200 (Gemm.cs SkinnyColumns), vector and scalar walks
        foreach (var s in sizes)
        {
            int m = s[0], k = s[1], n = s[2];
            yield return new OpCase("MatMul.Bf16Weights", $"M={m},K={k},N={n},tB",
                rng => [Randn(rng, m, k), Randn(rng, n, k)],
                x => [Ops.MatMul(x[0], Ops.Cast(x[1], DType.BFloat16), transB: true)]) { HasGradient = false, CudaMaxNmse = 1e-4 };
        }
        yield return new OpCase("MatMul.Bf16Weights", "batched,B=3,M=5,K=31,N=7",
            rng => [Randn(rng, 3, 5, 31), Randn(rng, 31, 7)],
            x => [Ops.MatMul(x[0], Ops.Cast(x[1], DType.BFloat16))]) { HasGradient = false, CudaMaxNmse = 1e-4 };
        yield return new OpCase("Embedding.Bf16Table", "V=31,D=257",
            rng => [Randn(rng, 31, 257), Ids(rng, 31, 3, 7)],
            x => [Ops.Embedding(Ops.Cast(x[0], DType.BFloat16), x[1])]) { HasGradient = false };
    }
}

using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for GatedRmsNormMatMul (IKernels.NormLinear.cs), the decode step's gated RMSNorm + out_proj in one
// call: M 1/2/3/7/16 rows, K 8/24/1536 (float4 paths on CUDA) and 7/31/257 (scalar paths), N 1/7/31/768, one group
// (groupSize K) and two (K/2), f32 and bf16 weights, x and z contiguous, as 16-byte aligned column blocks of wider
// rows (in_proj's output) or as misaligned ones (CUDA's norm reads them at their row strides). Tolerance: the default
// NMSE 1e-10 on every backend: the CPU and CUDA compose their own kernels, CUDA's skinny GEMM summing in float32 with
// exactly widened bf16 weights (both about 1e-14 against the float64 reference); above CudaBf16ExactRows rows CUDA's
// bf16 products go through cuBLAS on bf16-rounded activations (OpCases.Bf16Weights' limit, 1e-4).
public static partial class OpCases
{
    /// <summary>One GatedRmsNormMatMul configuration; View: 0 contiguous, 1 aligned column blocks, 2 misaligned ones.</summary>
    private sealed record NormLinearConfig(int M, int K, int N, int Groups, bool Bf16, int View)
    {
        public int GroupSize => K / Groups;

        public override string ToString()
            => $"M={M},K={K},N={N},group={GroupSize}{(Bf16 ? ",bf16W" : "")}{View switch { 1 => ",view", 2 => ",misaligned", _ => "" }}";
    }

    private static NormLinearConfig[] NormLinearConfigs =>
    [
        new(1, 8, 1, 1, false, 0),
        new(1, 8, 7, 2, true, 1),
        new(2, 24, 7, 2, true, 1),
        new(3, 31, 7, 1, true, 2),
        new(16, 24, 768, 2, true, 0),
        new(1, 1536, 768, 1, true, 1),
        new(2, 1536, 768, 2, true, 2),
        new(2, 1536, 7, 2, false, 1),
        new(16, 8, 7, 1, true, 1),
        new(3, 7, 1, 1, true, 0),
        new(7, 257, 31, 1, true, 1),
        new(1, 31, 768, 1, false, 1),
        new(16, 1536, 7, 2, true, 1),
    ];

    /// <summary>GatedRmsNormMatMul vs the reference composition GatedRmsNorm → Gemm (weight transposed).</summary>
    public static IEnumerable<OpCase> GatedRmsNormMatMul()
    {
        foreach (var s in NormLinearConfigs)
        {
            // Aligned views start 4 floats in (x) or at 0 (z) of rows 4 and 8 floats wider; misaligned ones 1 float in.
            int xPad = s.View switch { 1 => 4, 2 => 3, _ => 0 }, zPad = s.View switch { 1 => 8, 2 => 5, _ => 0 };
            int xAt = s.View switch { 1 => 4, 2 => 1, _ => 0 }, zAt = s.View == 2 ? 1 : 0;
            yield return new OpCase("GatedRmsNormMatMul", s.ToString(), rng =>
                [Randn(rng, s.M, s.K + xPad), Randn(rng, s.M, s.K + zPad), Rand(rng, 0.5, 1.5, s.K), Randn(rng, s.N, s.K)],
                t =>
                {
                    var x = s.View == 0 ? t[0] : Ops.Narrow(t[0], 1, xAt, s.K);   // (M, K)
                    var z = s.View == 0 ? t[1] : Ops.Narrow(t[1], 1, zAt, s.K);   // (M, K)
                    var w = s.Bf16 ? Ops.Cast(t[3], DType.BFloat16) : t[3];        // (N, K)
                    return [Ops.GatedRmsNormMatMul(x, z, t[2], 1e-5, s.GroupSize, w)];
                }) { HasGradient = false, CudaMaxNmse = s.Bf16 && s.M > CudaBf16ExactRows ? 1e-4 : null };
        }
    }
}

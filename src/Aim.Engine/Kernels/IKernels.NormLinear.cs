using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: GatedRmsNormMatMul, the end of a Mamba-2 layer's decode step in one call: the gated RMSNorm of
// IKernels.Norm.cs (GatedRmsNorm) followed by out_proj's product with the (N, K) weight as in IKernels.Core.cs
// (Gemm with transB, bf16 weights widened exactly, float32 accumulation). Formulas: aim-architecture.md §3.6 and
// §4 (layernorm_gated.RMSNorm, norm_before_gate = False); the definition is the composition below.
public partial interface IKernels
{
    /// <summary>
    /// output = GatedRmsNorm(x, z, normWeight, eps, groupSize) · weightᵀ: g = x · silu(z); each group of
    /// <paramref name="groupSize"/> consecutive channels of a row is scaled by its own 1/sqrt(mean(g²) + eps) and
    /// by normWeight, and the (M, K) result is multiplied by the (N, K) weight as
    /// <c>Gemm(normed, weight, output, transA: false, transB: true, 1, 0)</c>. x, z, normWeight and output share one
    /// float dtype (float32; the reference and CPU also take float64); the weight has that dtype or is bf16 with
    /// float32 activations (widened exactly, float32 accumulation). The normalised rows are kept in the activation
    /// dtype between the two steps, as the composition rounds them.
    /// </summary>
    /// <param name="x">(M, K); may be a strided view whose last stride is 1.</param>
    /// <param name="z">(M, K), the gate; may be a strided view whose last stride is 1 (a column block of in_proj's output).</param>
    /// <param name="normWeight">(K), contiguous.</param>
    /// <param name="eps">Added to each group's mean square.</param>
    /// <param name="groupSize">Channels per group; K % groupSize == 0.</param>
    /// <param name="weight">(N, K), contiguous (out_proj's weight, PyTorch layout).</param>
    /// <param name="output">(M, N), contiguous.</param>
    void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output);
}

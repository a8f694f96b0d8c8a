using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: GatedRmsNormMatMul (reference): the definition itself, GatedRmsNorm into an (M, K) temporary followed by
// Gemm with the weight transposed (IKernels.NormLinear.cs; the two reference kernels accumulate in double).
public partial class ReferenceKernels
{
    /// <inheritdoc />
    /// <remarks>
    /// Copy, GatedRmsNorm and Gemm are called virtually, so on the CPU backend this composition runs its SIMD kernels.
    /// No fused CPU loop: fusing removes a launch on the GPU, while on the CPU it would only save the (M, K) buffer
    /// (6 KB per AiM-B row) next to the 2.4-4.7 MB weight the product streams.
    /// </remarks>
    public virtual void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        var s = NormLinearChecks.Check(nameof(GatedRmsNormMatMul), x, z, normWeight, groupSize, weight, output);
        NormLinearChecks.Compose(this, s, x, z, normWeight, eps, groupSize, weight, output);
    }
}

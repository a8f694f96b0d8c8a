using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: GatedRmsNormMatMul (reference): the definition itself, GatedRmsNorm into an (M, K) temporary followed by
// Gemm with the weight transposed (IKernels.NormLinear.cs; the two reference kernels accumulate in double).
public partial class ReferenceKernels
{
    /// <inheritdoc />
    /// <remarks>
    /// Copy, GatedRmsNorm and Gemm are called virtually: on a derived backend that does not override this method the
    /// composition runs that backend's kernels (CpuKernels overrides it only to say so explicitly).
    /// </remarks>
    public virtual void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        var s = NormLinearChecks.Check(nameof(GatedRmsNormMatMul), x, z, normWeight, groupSize, weight, output);
        NormLinearChecks.Compose(this, s, x, z, normWeight, eps, groupSize, weight, output);
    }
}

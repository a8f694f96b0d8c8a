// GatedRmsNormMatMul (IKernels.NormLinear.cs) on CUDA: the composition of this backend's GatedRmsNorm and Gemm
// (NormLinearChecks): norm.cu's rms_norm_f32 into an (M, K) temporary, then Gemm with the weight transposed, which for
// bf16 weights and decode-sized M (≤ SkinnyRowLimit rows, Gemm.cs) is skinny_gemm.cu's skinny_gemm_bf16. The norm reads x and z at their
// row strides (z is a column block of in_proj's output in the decode), so strided operands cost no copy kernel.
// A fused kernel (the norm recomputed in every block of the weight stream, one launch) was removed: on the H200 it
// lost to the two launches at every size (src/Aim.Engine.Cuda/NOTES.md, "Decode step: separate kernels").
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        const string op = nameof(GatedRmsNormMatMul);
        OnDevice(op, x, z, normWeight, weight, output);
        var s = NormLinearChecks.Check(op, x, z, normWeight, groupSize, weight, output);
        F32(op, x);
        if (s.M == 0 || s.N == 0) return;
        using var normed = TensorScope.Detach(Tensor.Empty([s.M, s.K], DType.Float32, x.Device)); // (M, K)
        LaunchRmsNorm(x, null, z, normWeight, eps, groupSize, s.K, normed, null);                  // GatedRmsNorm's launch
        NormLinearChecks.Project(this, s, normed, weight, output);
    }
}

using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: GatedRmsNormMatMul on the CPU as the composition of this backend's GatedRmsNorm (SIMD rows) and Gemm
// (the packed SIMD GEMM, bf16 weights widened exactly) through an (M, K) buffer, for every dtype.
// Why no fused loop: on the GPU the fusion removes a kernel launch (2-5 µs at batch 1) and the normalised rows never
// leave shared memory; on the CPU a call costs nothing comparable, and the only saving would be the (M, K) buffer
// (K = 1536 floats per row for AiM-B, 6 KB, written and read back from L1) next to the (N, K) weight the product
// streams (768 × 1536 values, 2.4-4.7 MB), so a fused loop would not be measurable.
// Formulas: IKernels.NormLinear.cs.
public partial class CpuKernels
{
    /// <inheritdoc />
    public override void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        var s = NormLinearChecks.Check(nameof(GatedRmsNormMatMul), x, z, normWeight, groupSize, weight, output);
        NormLinearChecks.Compose(this, s, x, z, normWeight, eps, groupSize, weight, output);
    }
}

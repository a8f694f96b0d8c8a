using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: ConvSsmStep on the CPU as the composition of this backend's CausalConv1dStep (SIMD over channels) and
// SsmStep (SIMD over N, threads over (batch, head)) through a (B, C) buffer, for every dtype.
// Why no fused loop: on the GPU the fusion removes a kernel launch (2-5 µs at batch 1); on the CPU a call costs
// nothing comparable, and the only saving would be one (B, C) buffer (C = 1792 floats per row for AiM-B, about
// 7 KB, written and read from L1/L2) next to the (B, H, P, N) state the SSM step streams (768 KB per row), so a
// fused loop would not be measurable. Formulas: IKernels.DecodeStep.cs / aim-architecture.md §3.6.
public unsafe partial class CpuKernels
{
    /// <inheritdoc />
    public override void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        const string op = nameof(ConvSsmStep);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        KernelChecks.Shape(op, "y", y, s.B, s.H, s.P);
        KernelChecks.Contiguous(op, "y", y);
        KernelChecks.SameDType(op, xbc, y);
        ComposeConvSsmStep(s, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
    }
}

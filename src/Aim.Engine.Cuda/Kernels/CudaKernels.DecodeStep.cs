// ConvSsmStep (IKernels.DecodeStep.cs) on CUDA, float32: the composition of this backend's CausalConv1dStep (SiLU,
// conv1d.cu's conv1d_step_k<K>_f32) into a (B, C) temporary and SsmStep (dt bias + softplus, ssm_step.cu's ssm_step_f32) on its
// x / b / c column blocks (DecodeStepChecks.Compose). A fused one-launch kernel was removed: on the H200 it lost to
// the two launches at every size (src/Aim.Engine.Cuda/NOTES.md, "Decode step: separate kernels").
// Formulas: aim-architecture.md §3.6, the definitions of ReferenceKernels.DecodeStep.cs.
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        const string op = nameof(ConvSsmStep);
        OnDeviceAll(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        F32(op, xbc);
        Out(op, "y", y, s.B, s.H, s.P);
        DecodeStepChecks.Compose(this, s, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: ConvSsmStep (reference): the definition itself, CausalConv1dStep with SiLU into a (B, C) buffer whose
// views x (B, H, P), b (B, G, N), c (B, G, N) feed SsmStep with the dt bias (DecodeStepChecks.Compose;
// IKernels.DecodeStep.cs; split as in Mamba2Mixer.Step). Formulas: aim-architecture.md §3.6.
public partial class ReferenceKernels
{
    /// <inheritdoc />
    /// <remarks>
    /// The two step kernels are called virtually, so on the CPU backend this composition runs its SIMD step kernels.
    /// No fused CPU loop: it would only save the (B, C) buffer (about 7 KB per row for AiM-B) next to the 768 KB of
    /// SSM state per row the step streams. (CUDA runs the same composition: its fused kernel lost to the two launches.)
    /// </remarks>
    public virtual void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        const string op = nameof(ConvSsmStep);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        CheckOutput(op, "y", y, xbc, s.B, s.H, s.P);
        DecodeStepChecks.Compose(this, s, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: ConvSsmStep (reference): the definition itself, CausalConv1dStep with SiLU into a (B, C) buffer whose
// views x (B, H, P), b (B, G, N), c (B, G, N) feed SsmStep with the dt bias (IKernels.DecodeStep.cs; split as in
// Mamba2Mixer.Step). Formulas: aim-architecture.md §3.6.
public partial class ReferenceKernels
{
    /// <inheritdoc />
    /// <remarks>
    /// The two step kernels are called virtually, so on the CPU backend this composition runs its SIMD step kernels.
    /// No fused CPU loop: fusing removes a launch on the GPU, while on the CPU it would only save the (B, C) buffer
    /// (about 7 KB per row for AiM-B) next to the 768 KB of SSM state per row the step streams.
    /// </remarks>
    public virtual void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        const string op = nameof(ConvSsmStep);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        CheckOutput(op, "y", y, xbc, s.B, s.H, s.P);
        ComposeConvSsmStep(s, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
    }

    /// <summary>CausalConv1dStep (SiLU) into a (B, C) buffer, then SsmStep on its x / b / c views.</summary>
    private void ComposeConvSsmStep(DecodeStepChecks.ConvSsmDims s, Tensor convState, Tensor xbc, Tensor convWeight,
        Tensor? convBias, Tensor ssmState, Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        using var conv = Tensor.Empty([s.B, s.C], xbc.DType, xbc.Device);         // (B, C)
        CausalConv1dStep(convState, xbc, convWeight, convBias, true, conv);
        long hp = (long)s.H * s.P, gn = (long)s.G * s.N;
        using var x = conv.CreateView([s.B, s.H, s.P], [s.C, s.P, 1], conv.Offset);            // conv[:, :H·P]
        using var bm = conv.CreateView([s.B, s.G, s.N], [s.C, s.N, 1], conv.Offset + hp);      // conv[:, H·P : H·P+G·N]
        using var cm = conv.CreateView([s.B, s.G, s.N], [s.C, s.N, 1], conv.Offset + hp + gn); // conv[:, H·P+G·N :]
        SsmStep(ssmState, x, dt, a, bm, cm, d, y, dtBias);
    }
}

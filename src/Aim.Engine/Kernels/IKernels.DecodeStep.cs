using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the combined single-token decode op of a Mamba-2 layer: ConvSsmStep (the conv-state step with SiLU
// followed by the SSM step with dt bias + softplus, in one call).
// Formulas: aim-architecture.md §3.6 (step and caches); the definitions are those of CausalConv1dStep and SsmStep
// in IKernels.Ssm.cs, composed as Mamba2Mixer.Step splits the conv output.
public partial interface IKernels
{
    /// <summary>
    /// One decode step of a Mamba-2 layer's conv and SSM, equal to
    /// <c>conv = CausalConv1dStep(convState, xbc, convWeight, convBias, silu: true)</c> (B, C) split as
    /// x = conv[:, :H·P] → (B, H, P), b = conv[:, H·P : H·P+G·N] → (B, G, N), c = conv[:, H·P+G·N :] → (B, G, N),
    /// followed by <c>SsmStep(ssmState, x, dt, a, b, c, d, y, dtBias)</c>: both states are updated in place.
    /// C must equal H·P + 2·G·N with H % G == 0 (G is inferred from C, H, P and N).
    /// </summary>
    /// <param name="convState">(B, C, K), contiguous, oldest input first; read and written.</param>
    /// <param name="xbc">(B, C) the new pre-conv input; may be a strided view whose last stride is 1.</param>
    /// <param name="convWeight">(C, K), contiguous.</param>
    /// <param name="convBias">(C), contiguous, or null.</param>
    /// <param name="ssmState">(B, H, P, N), contiguous; read and written.</param>
    /// <param name="dt">(B, H) raw in_proj values; may be a strided view whose last stride is 1.</param>
    /// <param name="dtBias">(H): the step size is softplus(dt + dtBias) (values above 20 pass through).</param>
    /// <param name="a">(H), negative decay rates.</param>
    /// <param name="d">(H) skip weights, or null.</param>
    /// <param name="y">(B, H, P), contiguous output.</param>
    void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y);
}

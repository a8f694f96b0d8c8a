using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: MambaDecodeLayer, one whole Mamba-2 block of a single-token decode step in one call: the gated residual
// add + RMSNorm + adaLN modulation (ModulatedAddRmsNorm, IKernels.Norm.cs), in_proj (Gemm with the weight
// transposed, IKernels.Core.cs), the conv + SSM step (ConvSsmStep, IKernels.DecodeStep.cs) and the gated RMSNorm +
// out_proj (GatedRmsNormMatMul, IKernels.NormLinear.cs), split as Mamba2Mixer.Step does.
// Formulas: aim-architecture.md §3.6 and §6.2; the definition is the composition in DecodeLayerChecks.Compose.
public partial interface IKernels
{
    /// <summary>
    /// One decode step of a Mamba-2 block for R rows, equal to the composition
    /// <code>
    /// ModulatedAddRmsNorm(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, u, residualOut)  // u (R, d)
    /// Gemm(u, inProj, zxbcdt, transA: false, transB: true, 1, 0)        // zxbcdt (R, E + C + H), z | xBC | dt
    /// ConvSsmStep(convState, zxbcdt[:, E : E+C], convWeight, convBias, ssmState, zxbcdt[:, E+C :], dtBias, a, d, ys)
    /// GatedRmsNormMatMul(ys as (R, E), zxbcdt[:, :E], gatedNormWeight, gatedNormEps, groupSize, outProj, y)
    /// </code>
    /// with E = H·P and C = E + 2·G·N (G inferred as in ConvSsmStep). Both states are updated in place. Activations and
    /// states are float32 (the reference also takes float64 throughout); inProj and outProj have the activation dtype
    /// or are bf16 with float32 activations (widened exactly, float32 accumulation). Inference only (no backward).
    /// residualOut may be residual itself (in place, as in ModulatedAddRmsNorm); no other operands may overlap.
    /// </summary>
    /// <param name="hidden">(R, d), contiguous: the previous block's mixer output (the block input for the first).</param>
    /// <param name="gate">(R, d) the previous block's adaLN gate, or null (first block: hidden is added as is).</param>
    /// <param name="residual">(R, d) the residual stream, or null (first block).</param>
    /// <param name="normWeight">(d) the block's RMSNorm weight.</param>
    /// <param name="normEps">Added to the RMSNorm's mean square.</param>
    /// <param name="scalePlusOne">(R, d): 1 + the block's adaLN scale.</param>
    /// <param name="shift">(R, d): the block's adaLN shift.</param>
    /// <param name="inProj">(E + C + H, d), contiguous: in_proj's weight (PyTorch layout).</param>
    /// <param name="convState">(R, C, K), contiguous, oldest input first; read and written.</param>
    /// <param name="convWeight">(C, K), contiguous.</param>
    /// <param name="convBias">(C), contiguous, or null.</param>
    /// <param name="ssmState">(R, H, P, N), contiguous; read and written.</param>
    /// <param name="dtBias">(H).</param>
    /// <param name="a">(H), negative decay rates.</param>
    /// <param name="d">(H) skip weights, or null.</param>
    /// <param name="gatedNormWeight">(E) the gated RMSNorm's weight.</param>
    /// <param name="gatedNormEps">Added to each group's mean square.</param>
    /// <param name="groupSize">Channels per gated-norm group; E % groupSize == 0.</param>
    /// <param name="outProj">(d, E), contiguous: out_proj's weight.</param>
    /// <param name="y">(R, d), contiguous output: the mixer's output.</param>
    /// <param name="residualOut">(R, d), contiguous output: residual + gate · hidden (the new residual stream).</param>
    void MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps, Tensor scalePlusOne, Tensor shift,
        Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut);
}

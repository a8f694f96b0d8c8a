using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: MambaDecodeLayer (reference): the definition itself, ModulatedAddRmsNorm → Gemm (in_proj) → ConvSsmStep →
// GatedRmsNormMatMul through temporaries (DecodeLayerChecks.Compose; IKernels.DecodeLayer.cs). Formulas:
// aim-architecture.md §3.6.
public partial class ReferenceKernels
{
    /// <inheritdoc />
    /// <remarks>
    /// The four kernels are called virtually, so on a derived backend that does not override this method (CpuKernels)
    /// the composition runs that backend's own kernels: the CPU's MambaDecodeLayer is its four SIMD kernels in a row,
    /// which is all a fusion could be there (a call costs nothing comparable to a GPU launch).
    /// </remarks>
    public virtual void MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps, Tensor scalePlusOne,
        Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        var s = DecodeLayerChecks.Check(nameof(MambaDecodeLayer), hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState,
            convWeight, convBias, ssmState, dtBias, a, d, gatedNormWeight, groupSize, outProj, y, residualOut);
        DecodeLayerChecks.Compose(this, s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj, convState, convWeight,
            convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, groupSize, outProj, y, residualOut);
    }
}

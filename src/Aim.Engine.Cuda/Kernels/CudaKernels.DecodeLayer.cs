// MambaDecodeLayer (IKernels.DecodeLayer.cs) on CUDA: the composition DecodeLayerChecks.Compose over this backend's
// ops, which launches six kernels: ModulatedAddRmsNorm (mod_add_rms_norm_f32), in_proj through Gemm
// (skinny_gemm_bf16), ConvSsmStep as CausalConv1dStep (conv1d_step_f32) + SsmStep (ssm_step_f32), and
// GatedRmsNormMatMul as GatedRmsNorm (rms_norm_f32, reading z in place) + out_proj through Gemm (skinny_gemm_bf16).
// (A persistent one-launch-per-layer kernel was measured slower on the H200 and deleted: NOTES.md.)
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps, Tensor scalePlusOne,
        Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        const string op = nameof(MambaDecodeLayer);
        OnDeviceAll(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias, ssmState, dtBias, a, d,
            gatedNormWeight, outProj, y, residualOut);
        var s = DecodeLayerChecks.Check(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias,
            ssmState, dtBias, a, d, gatedNormWeight, groupSize, outProj, y, residualOut);
        F32(op, hidden);
        DecodeLayerChecks.Compose(this, s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj, convState, convWeight,
            convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, groupSize, outProj, y, residualOut);
    }
}

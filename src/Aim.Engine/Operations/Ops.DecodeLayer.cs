using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: MambaDecodeLayer, one Mamba-2 block of a decode step in one kernel call (inference only, like ConvSsmStep:
// it runs under NoGrad and is never recorded). Definition: IKernels.DecodeLayer.cs.
public static partial class Ops
{
    /// <summary>
    /// One decode step of a Mamba-2 block (no gradient): (u, residualOut) = ModulatedAddRmsNorm(hidden, gate, residual,
    /// normWeight, normEps, scalePlusOne, shift); zxbcdt = u · inProjᵀ split as z | xBC | dt; ys = ConvSsmStep(convState,
    /// xBC, convWeight, convBias, ssmState, dt, dtBias, a, d); y = GatedRmsNormMatMul(ys, z, gatedNormWeight,
    /// gatedNormEps, groupSize, outProj). Both states are updated in place. The products use the weights' own dtype
    /// (bf16 weights are widened exactly with float32 accumulation); an <see cref="Autocast"/> scope does not apply.
    /// </summary>
    /// <param name="hidden">(R, d).</param>
    /// <param name="gate">(R, d) the previous block's gate, or null (first block).</param>
    /// <param name="residual">(R, d) the residual stream, or null (first block).</param>
    /// <param name="normWeight">(d).</param>
    /// <param name="normEps">RMSNorm epsilon.</param>
    /// <param name="scalePlusOne">(R, d).</param>
    /// <param name="shift">(R, d).</param>
    /// <param name="inProj">(E + C + H, d) in_proj's weight.</param>
    /// <param name="convState">(R, C, K), contiguous; updated in place.</param>
    /// <param name="convWeight">(C, K).</param>
    /// <param name="convBias">(C) or null.</param>
    /// <param name="ssmState">(R, H, P, N), contiguous; updated in place.</param>
    /// <param name="dtBias">(H).</param>
    /// <param name="a">(H), negative decay rates.</param>
    /// <param name="d">(H) or null.</param>
    /// <param name="gatedNormWeight">(E).</param>
    /// <param name="gatedNormEps">Gated RMSNorm epsilon.</param>
    /// <param name="groupSize">Channels per gated-norm group.</param>
    /// <param name="outProj">(d, E) out_proj's weight.</param>
    /// <returns>Y (R, d), the mixer output, and ResidualOut (R, d), the new residual stream (a new tensor).</returns>
    public static (Tensor Y, Tensor ResidualOut) MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps,
        Tensor scalePlusOne, Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias,
        Tensor a, Tensor? d, Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj)
    {
        const string op = nameof(MambaDecodeLayer);
        SameDeviceOptional(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias, ssmState,
            dtBias, a, d, gatedNormWeight, outProj);
        if (hidden.Rank != 2 || outProj.Rank != 2)
            throw new ArgumentException($"{op}: expected hidden (R, d) and outProj (d, E), got {Tensor.ShapeString(hidden.Shape)} and {Tensor.ShapeString(outProj.Shape)}");
        using var noGrad = Tape.NoGrad();
        using var hc = ContiguousNoGrad(hidden);
        using var gc = gate is null ? null : ContiguousNoGrad(gate);
        using var rc = residual is null ? null : ContiguousNoGrad(residual);
        using var nwc = ContiguousNoGrad(normWeight);
        using var sc = ContiguousNoGrad(scalePlusOne);
        using var tc = ContiguousNoGrad(shift);
        using var ic = ContiguousNoGrad(inProj);
        using var cwc = ContiguousNoGrad(convWeight);
        using var cbc = convBias is null ? null : ContiguousNoGrad(convBias);
        using var dbc = ContiguousNoGrad(dtBias);
        using var ac = ContiguousNoGrad(a);
        using var dc = d is null ? null : ContiguousNoGrad(d);
        using var gnc = ContiguousNoGrad(gatedNormWeight);
        using var oc = ContiguousNoGrad(outProj);
        var y = Tensor.Empty([hidden.Shape[0], outProj.Shape[0]], hidden.DType, hidden.Device);
        var residualOut = Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
        K(hidden).MambaDecodeLayer(hc, gc, rc, nwc, normEps, sc, tc, ic, convState, cwc, cbc, ssmState, dbc, ac, dc, gnc, gatedNormEps,
            groupSize, oc, y, residualOut);
        return (y, residualOut);
    }
}

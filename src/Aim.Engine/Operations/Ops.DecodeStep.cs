using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: the combined decode-step ops of a Mamba-2 layer (inference only, like CausalConv1dStep and SsmStep: they
// run under NoGrad and are never recorded): ConvSsmStep = CausalConv1dStep (SiLU) + SsmStep (dt bias + softplus).
// Formulas: aim-architecture.md §3.6; definitions in IKernels.DecodeStep.cs.
public static partial class Ops
{
    /// <summary>
    /// One decode step of a layer's conv and SSM in one call (no gradient): equal to
    /// <c>conv = CausalConv1dStep(convState, xbc, convWeight, convBias, silu: true)</c>, split as x = conv[:, :H·P],
    /// b = conv[:, H·P : H·P+G·N], c = conv[:, H·P+G·N :], then <c>SsmStep(ssmState, x, dt, a, b, c, d, dtBias)</c>.
    /// Both states are updated in place.
    /// </summary>
    /// <param name="convState">(B, C, K), contiguous, oldest input first; updated in place. C = H·P + 2·G·N.</param>
    /// <param name="xbc">(B, C), the new pre-conv input (a Narrow of in_proj's output is fine).</param>
    /// <param name="convWeight">(C, K).</param>
    /// <param name="convBias">(C) or null.</param>
    /// <param name="ssmState">(B, H, P, N), contiguous; updated in place.</param>
    /// <param name="dt">(B, H), the raw in_proj values (the step size is softplus(dt + dtBias)).</param>
    /// <param name="dtBias">(H).</param>
    /// <param name="a">(H), negative decay rates.</param>
    /// <param name="d">(H) skip weights, or null.</param>
    /// <returns>y (B, H, P).</returns>
    public static Tensor ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d)
    {
        const string op = nameof(ConvSsmStep);
        SameDeviceOptional(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        if (ssmState.Rank != 4)
            throw new ArgumentException($"{op}: ssmState must be (B, H, P, N), got {Tensor.ShapeString(ssmState.Shape)}");
        using var noGrad = Tape.NoGrad();
        using var xk = UnitStrideNoGrad(xbc);
        using var wk = ContiguousNoGrad(convWeight);
        using var bk = convBias is null ? null : ContiguousNoGrad(convBias);
        using var dtk = UnitStrideNoGrad(dt);
        using var biask = ContiguousNoGrad(dtBias);
        using var ak = ContiguousNoGrad(a);
        using var dk = d is null ? null : ContiguousNoGrad(d);
        var y = Tensor.Empty([ssmState.Shape[0], ssmState.Shape[1], ssmState.Shape[2]], xbc.DType, xbc.Device);
        K(xbc).ConvSsmStep(convState, xk, wk, bk, ssmState, dtk, biask, ak, dk, y);
        return y;
    }
}

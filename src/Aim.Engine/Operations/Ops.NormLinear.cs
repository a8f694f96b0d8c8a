using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: GatedRmsNormMatMul, the gated RMSNorm of a Mamba-2 layer followed by out_proj in one kernel-contract call
// (inference only, like ConvSsmStep: it runs under NoGrad and is never recorded). Definition: IKernels.NormLinear.cs.
public static partial class Ops
{
    /// <summary>
    /// GatedRmsNorm(x, z, normWeight, eps, groupSize) · weightᵀ in one call (no gradient: the decode step's norm and
    /// out_proj). Equal to <c>Linear(GatedRmsNorm(x, z, normWeight, eps, groupSize), weight)</c> outside an
    /// <see cref="Autocast"/> scope; the product always uses the weight's own dtype (bf16 weights are widened
    /// exactly with float32 accumulation), an autocast scope does not apply.
    /// </summary>
    /// <param name="x">(M, K) activations (a strided view with unit last stride is used in place).</param>
    /// <param name="z">(M, K) gate (a Narrow of in_proj's output is fine).</param>
    /// <param name="normWeight">(K) the norm's weight.</param>
    /// <param name="eps">Added to each group's mean square (Mamba-2: 1e-5).</param>
    /// <param name="groupSize">Channels per norm group (d_inner / n_groups); must divide K.</param>
    /// <param name="weight">(N, K) the projection's weight, x's dtype or bf16 with float32 x.</param>
    /// <returns>(M, N).</returns>
    public static Tensor GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight)
    {
        const string op = nameof(GatedRmsNormMatMul);
        SameDevice(op, x, z, normWeight, weight);
        if (x.Rank != 2 || z.Rank != 2 || normWeight.Rank != 1 || weight.Rank != 2)
            throw new ArgumentException($"{op}: expected x (M, K), z (M, K), normWeight (K) and weight (N, K), got x {Tensor.ShapeString(x.Shape)}, "
                + $"z {Tensor.ShapeString(z.Shape)}, normWeight {Tensor.ShapeString(normWeight.Shape)}, weight {Tensor.ShapeString(weight.Shape)}");
        int k = x.Shape[1];
        if (!z.Shape.SequenceEqual(x.Shape) || normWeight.Shape[0] != k || weight.Shape[1] != k)
            throw new ArgumentException($"{op}: x {Tensor.ShapeString(x.Shape)}, z {Tensor.ShapeString(z.Shape)}, normWeight {Tensor.ShapeString(normWeight.Shape)} "
                + $"and weight {Tensor.ShapeString(weight.Shape)} must be (M, K), (M, K), (K) and (N, K)");
        if (groupSize <= 0 || k % groupSize != 0)
            throw new ArgumentException($"{op}: groupSize {groupSize} must be positive and divide K = {k} of x {Tensor.ShapeString(x.Shape)}");
        using var noGrad = Tape.NoGrad();
        using var xk = UnitStrideNoGrad(x);
        using var zk = UnitStrideNoGrad(z);
        using var nk = ContiguousNoGrad(normWeight);
        using var wk = ContiguousNoGrad(weight);
        var y = Tensor.Empty([x.Shape[0], weight.Shape[0]], x.DType, x.Device);
        K(x).GatedRmsNormMatMul(xk, zk, nk, eps, groupSize, wk, y);
        return y;
    }
}

using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: Modulate (adaLN modulation u = x · (1 + scale) + shift) and Gate (out = gate · y) with per-image rows
// (B, D) broadcast over the L positions of (B, L, D) activations, each one kernel forward and one backward.
// Definition and rounding: IKernels.Modulate.cs (the same values as Add(Mul(x, scale), shift) and Mul(gate, y) on
// the unsqueezed rows; gradients equal up to the summation order of the row sums).
public static partial class Ops
{
    /// <summary>
    /// adaLN modulation: x · scalePlusOne + shift, the rows broadcast over L (product rounded, then the sum).
    /// Gradients reach all three operands.
    /// </summary>
    /// <param name="x">(B, L, D).</param>
    /// <param name="scalePlusOne">(B, D): 1 + the adaLN scale.</param>
    /// <param name="shift">(B, D).</param>
    /// <returns>(B, L, D).</returns>
    public static Tensor Modulate(Tensor x, Tensor scalePlusOne, Tensor shift) => RowModulate(nameof(Modulate), x, scalePlusOne, shift, gateFirst: false);

    /// <summary>The adaLN gate: gate · y with gate's rows broadcast over L. Gradients reach gate and y.</summary>
    /// <param name="gate">(B, D).</param>
    /// <param name="y">(B, L, D).</param>
    /// <returns>(B, L, D).</returns>
    public static Tensor Gate(Tensor gate, Tensor y) => RowModulate(nameof(Gate), y, gate, null, gateFirst: true);

    // x (B, L, D), scale and shift (B, D). gateFirst (Gate: no shift): the recorded inputs are [scale, x]; else
    // (Modulate) [x, scale, shift].
    private static Tensor RowModulate(string op, Tensor x, Tensor scale, Tensor? shift, bool gateFirst)
    {
        if (x.Rank != 3)
            throw new ArgumentException($"{op}: activations must be (B, L, D), got shape {Tensor.ShapeString(x.Shape)}");
        int[] rows = [x.Shape[0], x.Shape[2]];
        if (!scale.Shape.SequenceEqual(rows) || (shift is not null && !shift.Shape.SequenceEqual(rows)))
            throw new ArgumentException($"{op}: rows must be {Tensor.ShapeString(rows)} for activations {Tensor.ShapeString(x.Shape)}, got "
                + $"{Tensor.ShapeString(scale.Shape)}{(shift is null ? "" : " and " + Tensor.ShapeString(shift.Shape))}");
        SameDeviceOptional(op, x, scale, shift);
        if (scale.DType != x.DType || (shift is not null && shift.DType != x.DType))
            throw new ArgumentException($"{op}: rows and activations must share a dtype, got {scale.DType.ShortName()} and {x.DType.ShortName()}");
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        using (var xc = ContiguousNoGrad(x))
        using (var sc = ContiguousNoGrad(scale))
        using (var hc = shift is null ? null : ContiguousNoGrad(shift))
            K(x).Modulate(xc, sc, hc, y);
        Tensor[] inputs = gateFirst ? [scale, x] : [x, scale, shift!];
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record(op, y, inputs, g =>
            {
                using var xs = ContiguousNoGrad(x);
                using var ss = ContiguousNoGrad(scale);
                using var gc = ContiguousNoGrad(g);
                var dx = x.RequiresGrad ? Tensor.Empty(x.Shape, x.DType, x.Device) : null;
                var ds = scale.RequiresGrad ? Tensor.Empty(scale.Shape, scale.DType, scale.Device) : null;
                var dh = shift is not null && shift.RequiresGrad ? Tensor.Empty(shift.Shape, shift.DType, shift.Device) : null;
                K(x).ModulateBackward(xs, ss, gc, dx, ds, dh);
                return gateFirst ? [ds, dx] : [dx, ds, dh];
            });
        }
        return y;
    }
}

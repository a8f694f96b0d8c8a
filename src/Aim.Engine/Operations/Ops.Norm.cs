using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: RmsNorm, AddRmsNorm (fused residual add + RMSNorm, two outputs), GatedRmsNorm (Mamba-2
// RMSNormGated, norm_before_gate = False), LayerNorm and GroupNorm, each with its backward kernel on the tape;
// ModulatedAddRmsNorm (AddRmsNorm's gated, adaLN-modulated decode form, no gradient).
// Semantics: spec/aim-architecture.md §4 (mamba_ssm layer_norm_fn and layernorm_gated.RMSNorm) and PyTorch
// nn.LayerNorm / nn.GroupNorm (biased variance). Backward kernels recompute the statistics from the inputs.
public static partial class Ops
{
    /// <summary>y = x / sqrt(mean(x²) + eps) · weight over the last dimension.</summary>
    /// <param name="x">(..., D).</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square (AiM: 1e-5).</param>
    /// <returns>(..., D).</returns>
    public static Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        CheckPerChannel(nameof(RmsNorm), x, weight, "weight");
        using var xc = ContiguousNoGrad(x);
        using var wc = ContiguousNoGrad(weight);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).RmsNorm(xc, wc, eps, y);
        if (Tape.ShouldRecord(x, weight))
        {
            Tape.Record(nameof(RmsNorm), y, [x, weight], g =>
            {
                using var xs = ContiguousNoGrad(x);
                using var ws = ContiguousNoGrad(weight);
                using var gc = ContiguousNoGrad(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                var dw = Tensor.Empty(weight.Shape, weight.DType, weight.Device);
                K(x).RmsNormBackward(xs, ws, gc, eps, dx, dw);
                return [IfNeeded(x, dx), IfNeeded(weight, dw)];
            });
        }
        return y;
    }

    /// <summary>
    /// Fused residual add + RMSNorm (mamba_ssm layer_norm_fn with prenorm): r = residual is null ? hidden :
    /// residual + hidden; returns (RmsNorm(r) · weight, r). r is a new tensor (a copy of hidden when there is
    /// no residual). Gradients reach hidden, residual and weight, including through the returned r.
    /// </summary>
    /// <param name="hidden">(..., D).</param>
    /// <param name="residual">(..., D) or null (first block).</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square (AiM: 1e-5).</param>
    /// <returns>Normed (..., D) and Residual (..., D).</returns>
    public static (Tensor Normed, Tensor Residual) AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps)
    {
        CheckPerChannel(nameof(AddRmsNorm), hidden, weight, "weight");
        if (residual is not null) CheckSameShape(nameof(AddRmsNorm), hidden, residual, "residual");
        using var hc = ContiguousNoGrad(hidden);
        using var rc = residual is null ? null : ContiguousNoGrad(residual);
        using var wc = ContiguousNoGrad(weight);
        var normed = Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
        var sum = Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
        K(hidden).AddRmsNorm(hc, rc, wc, eps, normed, sum);
        Tensor[] inputs = residual is null ? [hidden, weight] : [hidden, residual, weight];
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record(nameof(AddRmsNorm), [normed, sum], inputs, d =>
            {
                var dNormed = d[0];
                var dSumOut = d[1];
                Tensor dSum;
                Tensor? dw = null;
                if (dNormed is null)
                {
                    dSum = Contiguous(dSumOut!);
                }
                else
                {
                    using var ws = ContiguousNoGrad(weight);
                    using var gn = ContiguousNoGrad(dNormed);
                    using var gr = dSumOut is null ? null : ContiguousNoGrad(dSumOut);
                    dSum = Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
                    dw = Tensor.Empty(weight.Shape, weight.DType, weight.Device);
                    K(hidden).AddRmsNormBackward(sum, ws, gn, gr, eps, dSum, dw);
                    dw = IfNeeded(weight, dw);
                }
                if (residual is null) return [IfNeeded(hidden, dSum), dw];
                // hidden and residual receive the same gradient: each gets its own view of one buffer (the tape adds into
                // gradient buffers in place only when it allocated them, and a shared buffer is never adopted as a leaf's Grad).
                Tensor? dResidual = residual.RequiresGrad ? (hidden.RequiresGrad ? dSum.CreateViewSame() : dSum) : null;
                Tensor? dHidden = hidden.RequiresGrad ? dSum : null;
                if (dHidden is null && dResidual is null) dSum.Dispose();
                return [dHidden, dResidual, dw];
            });
        }
        return (normed, sum);
    }

    /// <summary>
    /// The decode step's gated residual add + RMSNorm + adaLN modulation in one kernel (no gradient: never
    /// recorded on the tape, like <see cref="SsmStep"/>): r = (residual or 0) + (gate is null ? hidden : gate · hidden),
    /// normed = RmsNorm(r) · weight · scalePlusOne + shift. Equal to AddRmsNorm(Mul(gate, hidden), residual, weight,
    /// eps) followed by Add(Mul(normed, scalePlusOne), shift), rounded the same way.
    /// </summary>
    /// <param name="hidden">(..., D).</param>
    /// <param name="gate">(..., D) or null (hidden is added ungated).</param>
    /// <param name="residual">(..., D) or null (first block).</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square (AiM: 1e-5).</param>
    /// <param name="scalePlusOne">(..., D): 1 + the adaLN scale.</param>
    /// <param name="shift">(..., D): the adaLN shift.</param>
    /// <param name="residualOut">
    /// (..., D), contiguous, written with r; may be <paramref name="residual"/> itself (the residual stream updated
    /// in place), must not overlap any other operand. Null: a new tensor is allocated.
    /// </param>
    /// <returns>
    /// Normed, a new (..., D) tensor, and Residual: <paramref name="residualOut"/> itself when given (do not dispose
    /// it twice), else the new tensor holding r.
    /// </returns>
    public static (Tensor Normed, Tensor Residual) ModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps,
        Tensor scalePlusOne, Tensor shift, Tensor? residualOut = null)
    {
        const string op = nameof(ModulatedAddRmsNorm);
        CheckPerChannel(op, hidden, weight, "weight");
        if (gate is not null) CheckSameShape(op, hidden, gate, "gate");
        if (residual is not null) CheckSameShape(op, hidden, residual, "residual");
        CheckSameShape(op, hidden, scalePlusOne, "scalePlusOne");
        CheckSameShape(op, hidden, shift, "shift");
        if (residualOut is not null) CheckSameShape(op, hidden, residualOut, "residualOut");
        using var noGrad = Tape.NoGrad();
        using var hc = ContiguousNoGrad(hidden);
        using var gc = gate is null ? null : ContiguousNoGrad(gate);
        using var rc = residual is null ? null : ContiguousNoGrad(residual);
        using var wc = ContiguousNoGrad(weight);
        using var sc = ContiguousNoGrad(scalePlusOne);
        using var tc = ContiguousNoGrad(shift);
        var normed = Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
        var sum = residualOut ?? Tensor.Empty(hidden.Shape, hidden.DType, hidden.Device);
        try
        {
            K(hidden).ModulatedAddRmsNorm(hc, gc, rc, wc, eps, sc, tc, normed, sum);
        }
        catch
        {
            normed.Dispose();
            if (residualOut is null) sum.Dispose();
            throw;
        }
        return (normed, sum);
    }

    /// <summary>
    /// Mamba-2 gated RMSNorm with norm_before_gate = False: g = x · silu(z), then each group of
    /// <paramref name="groupSize"/> consecutive channels of the last dimension is RMS-normalised on its own,
    /// times weight. groupSize = D is one group over the whole row (AiM, ngroups = 1).
    /// </summary>
    /// <param name="x">(..., D).</param>
    /// <param name="z">(..., D), the gate.</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to each group's mean square (AiM: 1e-5).</param>
    /// <param name="groupSize">Channels per group; must divide D.</param>
    /// <returns>(..., D).</returns>
    public static Tensor GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize)
    {
        CheckPerChannel(nameof(GatedRmsNorm), x, weight, "weight");
        CheckSameShape(nameof(GatedRmsNorm), x, z, "z");
        int d = x.Shape[^1];
        if (groupSize <= 0 || d % groupSize != 0)
            throw new ArgumentException($"GatedRmsNorm: groupSize {groupSize} must be positive and divide the last dimension of x {Tensor.ShapeString(x.Shape)}");
        // x and z are read in place when they are row views (z is a Narrow of in_proj's output in a Mamba-2 layer).
        using var xc = RowViewNoGrad(x);
        using var zc = RowViewNoGrad(z);
        using var wc = ContiguousNoGrad(weight);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).GatedRmsNorm(xc, zc, wc, eps, groupSize, y);
        if (Tape.ShouldRecord(x, z, weight))
        {
            Tape.Record(nameof(GatedRmsNorm), y, [x, z, weight], g =>
            {
                using var xs = RowViewNoGrad(x);
                using var zs = RowViewNoGrad(z);
                using var ws = ContiguousNoGrad(weight);
                using var gc = ContiguousNoGrad(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                // dz straight into its place in in_proj's gradient when z is a slice of it (every backend writes row views).
                var dz = Tape.GradientSlot(z) ?? Tensor.Empty(x.Shape, x.DType, x.Device);
                var dw = Tensor.Empty(weight.Shape, weight.DType, weight.Device);
                K(x).GatedRmsNormBackward(xs, zs, ws, gc, eps, groupSize, dx, dz, dw);
                return [IfNeeded(x, dx), IfNeeded(z, dz), IfNeeded(weight, dw)];
            });
        }
        return y;
    }

    /// <summary>LayerNorm over the last dimension (biased variance), with optional weight and bias.</summary>
    /// <param name="x">(..., D).</param>
    /// <param name="weight">(D) or null.</param>
    /// <param name="bias">(D) or null.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <returns>(..., D).</returns>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        if (weight is not null) CheckPerChannel(nameof(LayerNorm), x, weight, "weight");
        if (bias is not null) CheckPerChannel(nameof(LayerNorm), x, bias, "bias");
        using var xc = ContiguousNoGrad(x);
        using var wc = weight is null ? null : ContiguousNoGrad(weight);
        using var bc = bias is null ? null : ContiguousNoGrad(bias);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).LayerNorm(xc, wc, bc, eps, y);
        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        Tensor[] ins = [.. inputs];
        if (Tape.ShouldRecord(ins))
        {
            Tape.Record(nameof(LayerNorm), y, ins, g =>
            {
                using var xs = ContiguousNoGrad(x);
                using var ws = weight is null ? null : ContiguousNoGrad(weight);
                using var gc = ContiguousNoGrad(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                var dw = weight is { RequiresGrad: true } ? Tensor.Empty(weight.Shape, weight.DType, weight.Device) : null;
                var db = bias is { RequiresGrad: true } ? Tensor.Empty(bias.Shape, bias.DType, bias.Device) : null;
                K(x).LayerNormBackward(xs, ws, gc, eps, dx, dw, db);
                var grads = new List<Tensor?> { IfNeeded(x, dx) };
                if (weight is not null) grads.Add(dw);
                if (bias is not null) grads.Add(db);
                return [.. grads];
            });
        }
        return y;
    }

    /// <summary>
    /// GroupNorm (PyTorch nn.GroupNorm): channels split into <paramref name="groups"/> groups of consecutive
    /// channels, each (sample, group) normalised over its channels and spatial positions (biased variance),
    /// then scaled and shifted per channel.
    /// </summary>
    /// <param name="x">(N, C, *spatial).</param>
    /// <param name="groups">Groups; must divide C (the VQ uses 32).</param>
    /// <param name="weight">(C).</param>
    /// <param name="bias">(C).</param>
    /// <param name="eps">Added to the variance (the VQ uses 1e-6).</param>
    /// <returns>x's shape.</returns>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps)
    {
        if (x.Rank < 2) throw new ArgumentException($"GroupNorm: x must be (N, C, *spatial), got {Tensor.ShapeString(x.Shape)}");
        int c = x.Shape[1];
        if (groups <= 0 || c % groups != 0)
            throw new ArgumentException($"GroupNorm: {groups} groups do not divide the {c} channels of x {Tensor.ShapeString(x.Shape)}");
        foreach (var (t, name) in new[] { (weight, "weight"), (bias, "bias") })
        {
            if (t.Rank != 1 || t.Shape[0] != c)
                throw new ArgumentException($"GroupNorm: {name} {Tensor.ShapeString(t.Shape)} must be ({c}) for x {Tensor.ShapeString(x.Shape)}");
            SameDevice(nameof(GroupNorm), x, t);
        }
        using var xc = ContiguousNoGrad(x);
        using var wc = ContiguousNoGrad(weight);
        using var bc = ContiguousNoGrad(bias);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).GroupNorm(xc, groups, wc, bc, eps, y);
        if (Tape.ShouldRecord(x, weight, bias))
        {
            Tape.Record(nameof(GroupNorm), y, [x, weight, bias], g =>
            {
                using var xs = ContiguousNoGrad(x);
                using var ws = ContiguousNoGrad(weight);
                using var gc = ContiguousNoGrad(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                var dw = Tensor.Empty(weight.Shape, weight.DType, weight.Device);
                var db = Tensor.Empty(bias.Shape, bias.DType, bias.Device);
                K(x).GroupNormBackward(xs, groups, ws, gc, eps, dx, dw, db);
                return [IfNeeded(x, dx), IfNeeded(weight, dw), IfNeeded(bias, db)];
            });
        }
        return y;
    }

    /// <summary>
    /// A view of <paramref name="x"/> when it is a row view (Kernels.NormChecks.RowStride: unit last stride, rows a fixed
    /// stride apart), else a contiguous copy; never recorded.
    /// </summary>
    private static Tensor RowViewNoGrad(Tensor x) => NormChecks.TryRowStride(x, out _) ? x.CreateViewSame() : ContiguousNoGrad(x);

    /// <summary>Returns <paramref name="grad"/> when <paramref name="input"/> wants a gradient, else frees it and returns null.</summary>
    private static Tensor? IfNeeded(Tensor input, Tensor grad)
    {
        if (input.RequiresGrad) return grad;
        grad.Dispose();
        return null;
    }

    private static void CheckPerChannel(string op, Tensor x, Tensor t, string name)
    {
        if (x.Rank < 1) throw new ArgumentException($"{op}: x must have at least one dimension");
        if (t.Rank != 1 || t.Shape[0] != x.Shape[^1])
            throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must be ({x.Shape[^1]}) for x {Tensor.ShapeString(x.Shape)}");
        if (t.DType != x.DType) throw new ArgumentException($"{op}: {name} is {t.DType.ShortName()}, x is {x.DType.ShortName()}");
        SameDevice(op, x, t);
    }

    private static void CheckSameShape(string op, Tensor x, Tensor t, string name)
    {
        if (!t.Shape.SequenceEqual(x.Shape))
            throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must have x's shape {Tensor.ShapeString(x.Shape)}");
        if (t.DType != x.DType) throw new ArgumentException($"{op}: {name} is {t.DType.ShortName()}, x is {x.DType.ShortName()}");
        SameDevice(op, x, t);
    }
}

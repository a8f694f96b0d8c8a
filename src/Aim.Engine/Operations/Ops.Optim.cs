using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: in-place optimizer updates (AdamW, EMA) and the partial sums of squares behind gradient clipping's norm.
// None of these is differentiable; they run with the tape off.
public static partial class Ops
{
    /// <summary>
    /// AdamW update of <paramref name="param"/> and its moments in place (formula in <see cref="IKernels.AdamWStep"/>).
    /// param, m, v: (...) contiguous, same dtype and device; grad: (...) any layout (copied when strided).
    /// </summary>
    public static void AdamWStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWHyper hyper)
    {
        SameDevice(nameof(AdamWStep), param, grad, m, v);
        if (!grad.Shape.SequenceEqual(param.Shape))
            throw new ArgumentException($"AdamWStep: grad {Tensor.ShapeString(grad.Shape)} must have the parameter's shape {Tensor.ShapeString(param.Shape)}");
        using var noGrad = Tape.NoGrad();
        using var gc = ContiguousNoGrad(grad);
        K(param).AdamWStep(gc, hyper, param, m, v);
    }

    /// <summary>ema ← ema + (1 − decay)·(source − ema) in place. ema: (...) contiguous; source: (...) any layout.</summary>
    public static void EmaUpdate(Tensor ema, Tensor source, double decay)
    {
        SameDevice(nameof(EmaUpdate), ema, source);
        if (!source.Shape.SequenceEqual(ema.Shape))
            throw new ArgumentException($"EmaUpdate: source {Tensor.ShapeString(source.Shape)} and ema {Tensor.ShapeString(ema.Shape)} differ");
        using var noGrad = Tape.NoGrad();
        using var sc = ContiguousNoGrad(source);
        K(ema).EmaUpdate(sc, decay, ema);
    }

    /// <summary>
    /// Writes partial sums of squares of <paramref name="x"/> into <paramref name="output"/> (chunks as in
    /// <see cref="IKernels.SquaredNormPartials"/>; their total is ‖x‖²). x: (...) any layout (copied when strided);
    /// output: (k) contiguous, x's dtype and device, e.g. a slice of a buffer that collects several tensors' partials.
    /// </summary>
    public static void SquaredNormPartials(Tensor x, Tensor output)
    {
        SameDevice(nameof(SquaredNormPartials), x, output);
        using var noGrad = Tape.NoGrad();
        using var xc = ContiguousNoGrad(x);
        K(x).SquaredNormPartials(xc, output);
    }
}

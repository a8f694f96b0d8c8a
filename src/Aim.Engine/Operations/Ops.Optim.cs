using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: in-place optimizer updates (AdamW, EMA) and the partial sums of squares behind gradient clipping's norm,
// single-tensor and over lists (one kernel call for many tensors), and the clip scale computed on the tensors' device.
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

    /// <summary>
    /// AdamW updates of many parameters in one kernel call (<see cref="IKernels.AdamWStepMany"/>): parameter i with
    /// grads[i], ms[i], vs[i] and hypers[i], every gradient also multiplied by <paramref name="gradScale"/>[0] when given.
    /// parameters, ms, vs: (...ᵢ) contiguous, one float dtype, one device; grads: (...ᵢ) any layout (copied when strided);
    /// gradScale: (1) the parameters' dtype, e.g. from <see cref="GradClipScale"/>.
    /// </summary>
    public static void AdamWStepMany(IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> grads, IReadOnlyList<Tensor> ms,
        IReadOnlyList<Tensor> vs, IReadOnlyList<AdamWHyper> hypers, Tensor? gradScale = null)
    {
        const string op = nameof(AdamWStepMany);
        if (parameters.Count == 0) return;
        if (grads.Count != parameters.Count)
            throw new ArgumentException($"{op}: {parameters.Count} parameters but {grads.Count} gradients");
        var device = parameters[0].Device;
        for (int i = 0; i < parameters.Count; i++)
        {
            SameDevice(op, parameters[0], parameters[i], grads[i]);
            if (!grads[i].Shape.SequenceEqual(parameters[i].Shape))
                throw new ArgumentException($"{op}: grad {i} {Tensor.ShapeString(grads[i].Shape)} must have the parameter's shape {Tensor.ShapeString(parameters[i].Shape)}");
        }
        foreach (var t in ms.Concat(vs))
            if (t.Device != device) throw new ArgumentException($"{op}: a moment is on {t.Device}, the parameters on {device}");
        if (gradScale is not null) SameDevice(op, parameters[0], gradScale);
        using var noGrad = Tape.NoGrad();
        var contiguous = new List<Tensor>(grads.Count);
        try
        {
            foreach (var g in grads) contiguous.Add(ContiguousNoGrad(g));
            K(parameters[0]).AdamWStepMany(contiguous, gradScale, hypers, parameters, ms, vs);
        }
        finally
        {
            foreach (var g in contiguous) g.Dispose();
        }
    }

    /// <summary>
    /// Partial sums of squares of many tensors into one buffer (<see cref="IKernels.SquaredNormPartialsMany"/>: tensor i
    /// fills counts[i] consecutive entries, in list order). xs: (...ᵢ) any layout (copied when strided), output's dtype and
    /// device; output: (Σ counts) contiguous.
    /// </summary>
    public static void SquaredNormPartialsMany(IReadOnlyList<Tensor> xs, IReadOnlyList<int> counts, Tensor output)
    {
        const string op = nameof(SquaredNormPartialsMany);
        foreach (var x in xs) SameDevice(op, output, x);
        using var noGrad = Tape.NoGrad();
        var contiguous = new List<Tensor>(xs.Count);
        try
        {
            foreach (var x in xs) contiguous.Add(ContiguousNoGrad(x));
            K(output).SquaredNormPartialsMany(contiguous, counts, output);
        }
        finally
        {
            foreach (var x in contiguous) x.Dispose();
        }
    }

    /// <summary>
    /// The clipped gradient scale gradScale · min(1, maxNorm / (√s·|gradScale| + 1e-6)) as a new (1) tensor on
    /// <paramref name="sumOfSquares"/>' device and dtype (<see cref="IKernels.GradClipScale"/>; maxNorm ≤ 0: gradScale).
    /// sumOfSquares: one element, float.
    /// </summary>
    public static Tensor GradClipScale(Tensor sumOfSquares, double gradScale, double maxNorm)
    {
        var output = Tensor.Empty([1], sumOfSquares.DType, sumOfSquares.Device);
        using var noGrad = Tape.NoGrad();
        K(sumOfSquares).GradClipScale(sumOfSquares, gradScale, maxNorm, output);
        return output;
    }
}

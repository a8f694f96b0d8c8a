// Holds: argument checks of the optimizer kernel family (IKernels.Optim.cs), shared by every backend.
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>Argument checks of the optimizer kernels, shared by every backend.</summary>
public static class OptimChecks
{
    /// <summary>grad, param, m, v: same shape and dtype, all contiguous; valid attributes.</summary>
    public static void AdamW(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v)
    {
        const string op = "AdamWStep";
        hyper.Validate(op);
        foreach (var (name, t) in new[] { ("grad", grad), ("m", m), ("v", v) })
        {
            if (!t.Shape.SequenceEqual(param.Shape))
                throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must have the parameter's shape {Tensor.ShapeString(param.Shape)}");
            KernelChecks.Contiguous(op, name, t);
        }
        KernelChecks.Contiguous(op, "param", param);
        KernelChecks.SameDType(op, param, grad, m, v);
    }

    /// <summary>source and ema: same shape and dtype, contiguous; decay in [0, 1].</summary>
    public static void Ema(Tensor source, double decay, Tensor ema)
    {
        const string op = "EmaUpdate";
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentException($"{op}: decay {decay} must lie in [0, 1]");
        KernelChecks.SameShape(op, source, ema);
        KernelChecks.SameDType(op, source, ema);
        KernelChecks.Contiguous(op, "source", source);
        KernelChecks.Contiguous(op, "ema", ema);
    }

    /// <summary>x and output contiguous, same dtype; output a non-empty vector.</summary>
    public static void SquaredNormPartials(Tensor x, Tensor output)
    {
        const string op = "SquaredNormPartials";
        if (output.Rank != 1 || output.Count < 1)
            throw new ArgumentException($"{op}: output {Tensor.ShapeString(output.Shape)} must be a non-empty vector (k)");
        KernelChecks.SameDType(op, x, output);
        KernelChecks.Contiguous(op, "x", x);
        KernelChecks.Contiguous(op, "output", output);
    }

    /// <summary>Chunk length ⌈n / k⌉ of <see cref="IKernels.SquaredNormPartials"/> (at least 1).</summary>
    public static long SquaredNormChunk(long n, long k) => Math.Max(1, (n + k - 1) / k);

    /// <summary>
    /// Lists of one length (≥ 1), each tensor as <see cref="AdamW"/> checks it, one float dtype for all, gradScale a
    /// one-element tensor of that dtype.
    /// </summary>
    public static void AdamWMany(IReadOnlyList<Tensor> grads, Tensor? gradScale, IReadOnlyList<AdamWHyper> hypers,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> ms, IReadOnlyList<Tensor> vs)
    {
        const string op = "AdamWStepMany";
        int n = parameters.Count;
        if (n < 1) throw new ArgumentException($"{op}: the parameter list is empty");
        if (grads.Count != n || hypers.Count != n || ms.Count != n || vs.Count != n)
            throw new ArgumentException($"{op}: {n} parameters but {grads.Count} grads, {hypers.Count} hypers, {ms.Count} first and {vs.Count} second moments");
        var dtype = parameters[0].DType;
        for (int i = 0; i < n; i++)
        {
            if (parameters[i].DType != dtype)
                throw new ArgumentException($"{op}: parameter {i} has dtype {parameters[i].DType.ShortName()}, parameter 0 {dtype.ShortName()} (one dtype per call)");
            AdamW(grads[i], hypers[i], parameters[i], ms[i], vs[i]);
        }
        if (gradScale is not null)
        {
            if (gradScale.Count != 1) throw new ArgumentException($"{op}: gradScale {Tensor.ShapeString(gradScale.Shape)} must hold one element");
            KernelChecks.SameDType(op, parameters[0], gradScale);
        }
    }

    /// <summary>Lists of one length (≥ 1), counts ≥ 1 summing to output's length, xs contiguous of output's dtype.</summary>
    public static void SquaredNormPartialsMany(IReadOnlyList<Tensor> xs, IReadOnlyList<int> counts, Tensor output)
    {
        const string op = "SquaredNormPartialsMany";
        if (xs.Count < 1) throw new ArgumentException($"{op}: the tensor list is empty");
        if (counts.Count != xs.Count) throw new ArgumentException($"{op}: {xs.Count} tensors but {counts.Count} partial counts");
        long total = 0;
        for (int i = 0; i < xs.Count; i++)
        {
            if (counts[i] < 1) throw new ArgumentException($"{op}: tensor {i} has partial count {counts[i]}, expected at least 1");
            total += counts[i];
            KernelChecks.SameDType(op, xs[i], output);
            KernelChecks.Contiguous(op, $"xs[{i}]", xs[i]);
        }
        if (output.Rank != 1 || output.Count != total)
            throw new ArgumentException($"{op}: output {Tensor.ShapeString(output.Shape)} must be a vector of the {total} partials the counts add up to");
        KernelChecks.Contiguous(op, "output", output);
    }

    /// <summary>sumOfSquares and output: one element each, one float dtype; gradScale finite.</summary>
    public static void GradClipScale(Tensor sumOfSquares, double gradScale, Tensor output)
    {
        const string op = "GradClipScale";
        if (sumOfSquares.Count != 1 || output.Count != 1)
            throw new ArgumentException($"{op}: sumOfSquares {Tensor.ShapeString(sumOfSquares.Shape)} and output {Tensor.ShapeString(output.Shape)} must hold one element each");
        if (!double.IsFinite(gradScale)) throw new ArgumentException($"{op}: gradient scale {gradScale} is not finite");
        KernelChecks.SameDType(op, sumOfSquares, output);
        if (!output.DType.IsFloat()) throw new ArgumentException($"{op}: dtype {output.DType.ShortName()} is not a float type");
    }
}

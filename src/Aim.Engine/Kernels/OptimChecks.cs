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
}

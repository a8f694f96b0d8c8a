// Holds: the scalar attributes of the SampleTokens kernel (IKernels.Sample.cs) and its argument checks, shared by
// every backend.
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>
/// Settings of one <see cref="IKernels.SampleTokens"/> call. The uniform for image b at step s is
/// <c>Philox.UniformDouble(Seed, CounterBase, s · images + b)</c>.
/// </summary>
/// <param name="CfgScale">Classifier-free guidance scale (used as float32: (float)CfgScale).</param>
/// <param name="TopK">Keep the TopK largest logits (ties kept); 0 or ≥ V disables.</param>
/// <param name="TopP">Nucleus threshold in (0, 1]; 1 disables.</param>
/// <param name="Temperature">Logits are divided by it; positive and finite, 1 leaves them unchanged.</param>
/// <param name="Seed">The Philox key.</param>
/// <param name="CounterBase">The Philox block the generation's stream starts at.</param>
/// <param name="PositionShift">0: the next step's position is s + 1; 1: it is s (models trained here, spec §11 Q1).</param>
public readonly record struct SampleSettings(double CfgScale, int TopK, double TopP, double Temperature, ulong Seed, ulong CounterBase, int PositionShift)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the op and the bad attribute.</summary>
    public void Validate(string op)
    {
        if (!double.IsFinite(CfgScale)) throw new ArgumentException($"{op}: cfg scale must be finite, got {CfgScale}");
        if (TopK < 0) throw new ArgumentException($"{op}: top-k must be >= 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"{op}: top-p must lie in (0, 1], got {TopP}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"{op}: temperature must be positive and finite, got {Temperature}");
        if (PositionShift is not (0 or 1)) throw new ArgumentException($"{op}: position shift must be 0 or 1, got {PositionShift}");
    }
}

/// <summary>Argument checks of <see cref="IKernels.SampleTokens"/>, shared by every backend (host-side only: no device reads).</summary>
public static class SampleChecks
{
    /// <summary>Checks shapes, dtypes, contiguity and settings; returns (images B, vocabulary V, tokens per image T).</summary>
    public static (int Images, int Vocab, int Length) Validate(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings)
    {
        const string op = "SampleTokens";
        settings.Validate(op);
        KernelChecks.Rank(op, "logits", logits, 2);
        KernelChecks.DType(op, "logits", logits, DType.Float32);
        int rows = logits.Shape[0], v = logits.Shape[1];
        if (rows == 0 || rows % 2 != 0)
            throw new ArgumentException($"{op}: logits {Tensor.ShapeString(logits.Shape)} must have an even, non-zero number of rows ([conditional ; unconditional])");
        if (v == 0) throw new ArgumentException($"{op}: logits {Tensor.ShapeString(logits.Shape)} has an empty vocabulary");
        int b = rows / 2;
        KernelChecks.Rank(op, "history", history, 2);
        if (history.Shape[0] != b || history.Shape[1] == 0)
            throw new ArgumentException($"{op}: history has shape {Tensor.ShapeString(history.Shape)}, expected ({b}, T) with T > 0");
        int t = history.Shape[1];
        foreach (var (name, x) in new[] { ("steps", steps), ("tokens", tokens), ("positions", positions) })
        {
            KernelChecks.Shape(op, name, x, rows);
            KernelChecks.DType(op, name, x, DType.Int64);
        }
        KernelChecks.DType(op, "history", history, DType.Int64);
        foreach (var (name, x) in new[] { ("logits", logits), ("steps", steps), ("tokens", tokens), ("positions", positions), ("history", history) })
            KernelChecks.Contiguous(op, name, x);
        return (b, v, t);
    }
}

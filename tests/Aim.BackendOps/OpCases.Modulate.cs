using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the row modulation family (IKernels.Modulate.cs): Modulate (x · (1 + scale) + shift) and
// Gate (gate · y) with (B, D) rows broadcast over the L positions of (B, L, D). Channels and positions of 1, 7, 31,
// 257; L = 1; B = 1 and B > 1; transposed (non-contiguous) activations; rows read as Select views of a (B, 3, D)
// tensor like AimBlock's modulation; an AiM-B-sized case (forward and backward through the harness, no finite
// differences). Gradients (finite differences in float64) reach every operand.
public static partial class OpCases
{
    /// <summary>Modulate and Gate at odd sizes, L = 1, views and the AiM-B block size.</summary>
    public static IEnumerable<OpCase> RowModulation()
    {
        foreach (int n in s_oddSizes)
        {
            yield return ModulateCase($"B=3,L=5,D={n}", 3, 5, n);
            yield return ModulateCase($"B=2,L={n},D=33", 2, n, 33);
            yield return GateCase($"B=3,L=5,D={n}", 3, 5, n);
            yield return GateCase($"B=2,L={n},D=33", 2, n, 33);
        }
        yield return ModulateCase("B=1,L=7,D=31", 1, 7, 31);
        yield return ModulateCase("B=4,L=1,D=31", 4, 1, 31);
        yield return GateCase("B=1,L=7,D=31", 1, 7, 31);
        yield return GateCase("B=4,L=1,D=31", 4, 1, 31);
        yield return new OpCase("Modulate", "B=2,L=7,D=31,transposed-x,select-rows",
            rng => [Randn(rng, 2, 31, 7), Rand(rng, -0.5, 0.5, 2, 3, 31)],
            t => [Ops.Modulate(Ops.Transpose(t[0], 1, 2), Ops.AddScalar(Ops.Select(t[1], 1, 1), 1.0), Ops.Select(t[1], 1, 0))]);
        yield return new OpCase("Gate", "B=2,L=7,D=31,transposed-y,select-rows",
            rng => [Rand(rng, -0.5, 0.5, 2, 3, 31), Randn(rng, 2, 31, 7)],
            t => [Ops.Gate(Ops.Select(t[0], 1, 2), Ops.Transpose(t[1], 1, 2))]);
        // AiM-B: 2 images of 256 tokens, d = 768 (the training step has 32); forward only (finite differences over
        // 400k inputs are slow; the kernel-level backward cases below take this size).
        yield return new OpCase("Modulate", "B=2,L=256,D=768",
            rng => [Randn(rng, 2, 256, 768), Rand(rng, 0.5, 1.5, 2, 768), Randn(rng, 2, 768)],
            t => [Ops.Modulate(t[0], t[1], t[2])]) { HasGradient = false };
        yield return new OpCase("Gate", "B=2,L=256,D=768",
            rng => [Randn(rng, 2, 768), Randn(rng, 2, 256, 768)],
            t => [Ops.Gate(t[0], t[1])]) { HasGradient = false };
    }

    /// <summary>
    /// ModulateBackward run directly on the active kernels (the op cases check gradients on the float64 reference
    /// only): every output, and the Gate form (no dShift) and the dX-only form, at odd sizes, L = 1, a long L that
    /// the CUDA backend splits across blocks, and the AiM-B block size.
    /// </summary>
    public static IEnumerable<OpCase> ModulateBackwardKernelCases()
    {
        (int B, int L, int D)[] shapes = [(1, 1, 1), (3, 7, 1), (2, 31, 7), (3, 5, 31), (2, 7, 257), (5, 1, 33), (1, 257, 31),
            (2, 3000, 40), (3, 256, 768)];
        foreach (var (b, l, d) in shapes)
            yield return new OpCase("Kernel.ModulateBackward", $"B={b},L={l},D={d}",
                rng => [Randn(rng, b, l, d), Rand(rng, 0.5, 1.5, b, d), Randn(rng, b, l, d)],
                t =>
                {
                    var k = Aim.Engine.Backends.Backend.Kernels(t[0].Device);
                    Tensor dx = Like(t[0]), ds = Like(t[1]), dh = Like(t[1]), gx = Like(t[0]), gs = Like(t[1]), ox = Like(t[0]);
                    k.ModulateBackward(t[0], t[1], t[2], dx, ds, dh);
                    k.ModulateBackward(t[0], t[1], t[2], gx, gs, null);
                    k.ModulateBackward(t[0], t[1], t[2], ox, null, null);
                    return [dx, ds, dh, gx, gs, ox];
                }) { HasGradient = false };
    }

    private static Tensor Like(Tensor t) => Tensor.Empty(t.Shape, t.DType, t.Device);

    private static OpCase ModulateCase(string label, int b, int l, int d) => new("Modulate", label,
        rng => [Randn(rng, b, l, d), Rand(rng, 0.5, 1.5, b, d), Randn(rng, b, d)],
        t => [Ops.Modulate(t[0], t[1], t[2])]);

    private static OpCase GateCase(string label, int b, int l, int d) => new("Gate", label,
        rng => [Randn(rng, b, d), Randn(rng, b, l, d)],
        t => [Ops.Gate(t[0], t[1])]);
}

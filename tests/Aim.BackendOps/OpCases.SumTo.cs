using Aim.Engine.Operations;

namespace Aim.BackendOps;

// provides: SumTo (Ops.SumToShape) over leading and middle dimensions, the shapes of bias and adaLN gradients
// ([B, L, D] -> [1, 1, D] or [B, 1, D]): many reduced rows and few outputs, which the CUDA backend sums with its
// column kernel split across blocks (sum_to.cu); a row sum with few outputs (the same kernel, one output per
// column); odd sizes 1, 7, 31, 257; a column slice and a transposed (non-contiguous) input; an AiM-sized case.
// No bf16 case: the reference SumTo takes float32 and float64 only (bf16 is checked by
// tests/cuda-emulation/sum_to_check.cpp against float64 sums).
public static partial class OpCases
{
    /// <summary>Sums over leading / middle dimensions at odd sizes, views and the AiM-B adaLN gradient size.</summary>
    public static IEnumerable<OpCase> SumTo()
    {
        foreach (int n in s_oddSizes)
        {
            yield return new OpCase("SumTo", $"{n}x31x9->1x1x9",
                rng => [Randn(rng, n, 31, 9)], x => [Ops.SumToShape(x[0], [1, 1, 9])]);
            yield return new OpCase("SumTo", $"5x{n}x33->5x1x33",
                rng => [Randn(rng, 5, n, 33)], x => [Ops.SumToShape(x[0], [5, 1, 33])]);
        }
        yield return new OpCase("SumTo", "3x257x31->1x1x31",
            rng => [Randn(rng, 3, 257, 31)], x => [Ops.SumToShape(x[0], [1, 1, 31])]);
        yield return new OpCase("SumTo", "7x300x33->7x1x33",
            rng => [Randn(rng, 7, 300, 33)], x => [Ops.SumToShape(x[0], [7, 1, 33])]);
        yield return new OpCase("SumTo", "3x8191->3x1",
            rng => [Randn(rng, 3, 8191)], x => [Ops.SumToShape(x[0], [3, 1])]);
        yield return new OpCase("SumTo", "7x300x33->7x1x33,column-slice",
            rng => [Randn(rng, 7, 300, 40)], x => [Ops.SumToShape(Ops.Narrow(x[0], 2, 3, 33), [7, 1, 33])]);
        yield return new OpCase("SumTo", "3x257x31->1x1x31,transposed",
            rng => [Randn(rng, 31, 257, 3)], x => [Ops.SumToShape(Ops.Transpose(x[0], 0, 2), [1, 1, 31])]);
        // AiM-sized: 2 × 2048 tokens of d = 768; no gradient check (the backward is Expand, checked above).
        yield return new OpCase("SumTo", "2x2048x768->1x1x768",
            rng => [Randn(rng, 2, 2048, 768)], x => [Ops.SumToShape(x[0], [1, 1, 768])]) { HasGradient = false };
    }
}

using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for Embedding (gather) and its scatter-add backward (repeated ids, i32 and i64 ids,
// multi-dimensional id tensors, a transposed weight view).
public static partial class OpCases
{
    /// <summary>Embedding lookups; the weight gradient is checked by finite differences.</summary>
    public static IEnumerable<OpCase> EmbeddingCases()
    {
        int[][] sizes = [[1, 1, 1], [7, 1, 5], [31, 7, 3], [257, 31, 7], [5, 257, 2]];
        foreach (var s in sizes)
        {
            int v = s[0], d = s[1], n = s[2];
            yield return new OpCase("Embedding", $"V={v},D={d},ids={n}",
                rng => [Randn(rng, v, d), Ids(rng, v, n)],
                x => [Ops.Embedding(x[0], x[1])]);
        }
        yield return new OpCase("Embedding", "V=7,D=31,ids=3x9,repeated",
            rng => [Randn(rng, 7, 31), Ids(rng, 7, 3, 9)],
            x => [Ops.Embedding(x[0], x[1])]);
        yield return new OpCase("Embedding", "V=31,D=7,ids=4x5,i32",
            rng => [Randn(rng, 31, 7), IdsInt32(rng, 31, 4, 5)],
            x => [Ops.Embedding(x[0], x[1])]);
        yield return new OpCase("Embedding", "V=31,D=7,transposed-weight",
            rng => [Randn(rng, 7, 31), Ids(rng, 31, 11)],
            x => [Ops.Embedding(Ops.Transpose(x[0], 0, 1), x[1])]);
        yield return new OpCase("Embedding", "V=257,D=7,scalar-ids",
            rng => [Randn(rng, 257, 7), Tensor.FromArray(new long[] { 200 }, ReadOnlySpan<int>.Empty)],
            x => [Ops.Embedding(x[0], x[1])]);
    }
}

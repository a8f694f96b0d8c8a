using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for Softmax, LogSoftmax and the fused CrossEntropy loss (rows of 1, 7, 31, 257 and more,
// large-magnitude logits for the max-subtraction, transposed inputs, i32 and i64 targets).
public static partial class OpCases
{
    /// <summary>Softmax and log-softmax over the last dimension.</summary>
    public static IEnumerable<OpCase> SoftmaxCases()
    {
        foreach (bool log in new[] { false, true })
        {
            string op = log ? "LogSoftmax" : "Softmax";
            Func<Tensor, Tensor> f = log ? Ops.LogSoftmax : Ops.Softmax;
            foreach (int v in s_oddSizes)
                yield return new OpCase(op, $"rows=3,V={v}", rng => [Randn(rng, 3, v)], x => [f(x[0])]);
            yield return new OpCase(op, "2x5x31", rng => [Randn(rng, 2, 5, 31)], x => [f(x[0])]);
            yield return new OpCase(op, "4x257,large-logits", rng => [Rand(rng, 500, 520, 4, 257)], x => [f(x[0])]);
            yield return new OpCase(op, "7x31,transposed", rng => [Randn(rng, 31, 7)], x => [f(Ops.Transpose(x[0], 0, 1))]);
        }
    }

    /// <summary>Mean cross-entropy of (N, V) logits against (N) class ids.</summary>
    public static IEnumerable<OpCase> CrossEntropyCases()
    {
        int[][] sizes = [[1, 1], [1, 7], [7, 31], [3, 257], [31, 7], [4, 1000]];
        foreach (var s in sizes)
        {
            int n = s[0], v = s[1];
            yield return new OpCase("CrossEntropy", $"N={n},V={v}",
                rng => [Randn(rng, n, v), Ids(rng, v, n)],
                x => [Ops.CrossEntropy(x[0], x[1])]) { NoGradInputs = new HashSet<int> { 1 } };
        }
        yield return new OpCase("CrossEntropy", "N=5,V=31,i32-targets",
            rng => [Randn(rng, 5, 31), IdsInt32(rng, 31, 5)],
            x => [Ops.CrossEntropy(x[0], x[1])]) { NoGradInputs = new HashSet<int> { 1 } };
        yield return new OpCase("CrossEntropy", "N=7,V=31,transposed-logits",
            rng => [Randn(rng, 31, 7), Ids(rng, 31, 7)],
            x => [Ops.CrossEntropy(Ops.Transpose(x[0], 0, 1), x[1])]) { NoGradInputs = new HashSet<int> { 1 } };
        yield return new OpCase("CrossEntropy", "N=3,V=257,large-logits",
            rng => [Rand(rng, 300, 330, 3, 257), Ids(rng, 257, 3)],
            x => [Ops.CrossEntropy(x[0], x[1])]) { NoGradInputs = new HashSet<int> { 1 } };
    }

    /// <summary>Random int32 ids in [0, n).</summary>
    public static Tensor IdsInt32(Aim.Engine.Random.Rng rng, int n, params int[] shape)
    {
        var data = new int[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = rng.NextInt(n);
        return Tensor.FromArray(data, shape);
    }
}

// Reshape of strided tensors: a view when every merged or split group of dimensions is contiguous within itself
// (Ops.ViewStrides), else a copy. Checked against "copy to contiguous, then reshape" on random views (narrows,
// permutations, broadcasts, size-1 dimensions) reshaped to random shapes of the same count, plus the cases that
// must and must not be views, and gradients through a strided reshape.
using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Tensors;

public class ReshapeViewTests
{
    [Fact]
    public void SplittingTheLastDimensionOfAColumnSliceIsAView()
    {
        using var scope = TensorScope.Open();
        var x = new Rng(1).Normal([2, 5, 20]);
        var slice = Ops.Narrow(x, 2, 4, 12);                    // (2, 5, 12), rows 20 apart: not contiguous
        var y = Ops.Reshape(slice, 2, 5, 3, 4);                 // Mamba's (B, L, H·P) → (B, L, H, P)
        Assert.Same(x.StorageOrThrow, y.StorageOrThrow);
        Assert.Equal([100L, 20, 4, 1], y.Strides.ToArray());
        Assert.Equal(Ops.Reshape(Ops.Contiguous(slice), 2, 5, 3, 4).ToArray<float>(), y.ToArray<float>());
        var merged = Ops.Reshape(slice, 10, 12);                // merging (2, 5): rows 100 and 20 apart, contiguous pair
        Assert.Same(x.StorageOrThrow, merged.StorageOrThrow);
    }

    [Fact]
    public void FlatteningATransposeCopies()
    {
        using var scope = TensorScope.Open();
        var x = new Rng(2).Normal([3, 4]);
        var t = Ops.Transpose(x, 0, 1);                         // (4, 3), strides (1, 4)
        var flat = Ops.Reshape(t, 12);
        Assert.NotSame(x.StorageOrThrow, flat.StorageOrThrow);
        Assert.Equal(Ops.Contiguous(t).ToArray<float>(), flat.ToArray<float>());
    }

    [Fact]
    public void RandomViewsReshapeLikeTheirContiguousCopies()
    {
        var rng = new Rng(3);
        int views = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            using var scope = TensorScope.Open();
            int rank = 1 + rng.NextInt(4);
            var dims = new int[rank];
            for (int d = 0; d < rank; d++) dims[d] = 1 + rng.NextInt(5);
            var x = rng.Normal(dims);
            // A random strided view: narrow a dimension, maybe permute, maybe broadcast a size-1 dimension.
            int nd = rng.NextInt(rank);
            if (dims[nd] > 1)
            {
                int start = rng.NextInt(dims[nd] - 1), length = 1 + rng.NextInt(dims[nd] - start);
                x = Ops.Narrow(x, nd, start, length);
            }
            if (rank > 1 && rng.NextInt(3) == 0) x = Ops.Transpose(x, 0, rank - 1);
            if (rng.NextInt(4) == 0)
            {
                var withOne = Ops.Unsqueeze(x, rng.NextInt(rank + 1));
                var expanded = withOne.Shape.ToArray();
                expanded[Array.IndexOf(expanded, 1)] = 1 + rng.NextInt(3);
                x = Ops.Expand(withOne, expanded);
            }
            int[] target = RandomShape(rng, x.Shape.ToArray());
            var want = Ops.Reshape(Ops.Contiguous(x), target).ToArray<float>();
            var got = Ops.Reshape(x, target);
            Assert.Equal(target, got.Shape.ToArray());
            Assert.Equal(want, got.ToArray<float>());
            if (!x.IsContiguous && ReferenceEquals(got.StorageOrThrow, x.StorageOrThrow)) views++;
        }
        Assert.True(views > 20, $"only {views} strided reshapes became views");   // the no-copy path was exercised
    }

    [Fact]
    public void GradientFlowsThroughAStridedReshapeView()
    {
        using var scope = TensorScope.Open();
        var x = new Rng(4).Normal([2, 3, 8]);
        x.RequiresGrad = true;
        var y = Ops.Reshape(Ops.Narrow(x, 2, 2, 6), 2, 3, 2, 3);
        var w = new Rng(5).Normal([2, 3, 2, 3]);
        Tape.Backward(Ops.Sum(Ops.Mul(y, w)));
        var g = x.Grad!.ToArray<float>();
        var wv = w.ToArray<float>();
        for (int b = 0; b < 2; b++)
            for (int l = 0; l < 3; l++)
                for (int c = 0; c < 8; c++)
                {
                    float want = c is >= 2 and < 8 ? wv[(b * 3 + l) * 6 + (c - 2)] : 0f;
                    Assert.Equal(want, g[(b * 3 + l) * 8 + c]);
                }
    }

    // Random shape with the same count: the dimensions' prime factors regrouped at random, with size-1 dims sprinkled in.
    private static int[] RandomShape(Rng rng, int[] shape)
    {
        var factors = new List<int>();
        foreach (int d in shape)
        {
            int n = d;
            for (int p = 2; n > 1; p++)
                while (n % p == 0)
                {
                    factors.Add(p);
                    n /= p;
                }
        }
        var result = new List<int>();
        int i = 0;
        while (i < factors.Count)
        {
            int take = 1 + rng.NextInt(Math.Min(3, factors.Count - i)), v = 1;
            for (int k = 0; k < take; k++) v *= factors[i++];
            result.Add(v);
            if (rng.NextInt(5) == 0) result.Add(1);
        }
        if (result.Count == 0 || rng.NextInt(4) == 0) result.Insert(0, 1);
        return [.. result];
    }
}

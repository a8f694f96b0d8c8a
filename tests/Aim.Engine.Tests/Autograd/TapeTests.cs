using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Autograd;

public class TapeTests
{
    [Fact]
    public void AFailingBackwardStillReleasesTheTapeAndItsSavedTensors()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3 });
        x.RequiresGrad = true;
        var y = Ops.Exp(x);
        Tape.Record("Broken", y, [x], _ => throw new InvalidOperationException("broken backward"));
        using (var loss = Ops.Sum(y))
            Assert.Throws<InvalidOperationException>(() => Tape.Backward(loss));
        Assert.Equal(0, Tape.Count);
        y.Dispose();
        Assert.True(y.IsDisposed);      // no tape hold is left that would defer the dispose
        x.Dispose();
    }

    // A leaf may keep the backward's gradient buffer as its Grad (Tensor.AccumulateGrad) only when nothing else views it:
    // leaves that receive views of one buffer (Add, Contiguous) or the caller's seed must each get their own copy, so a
    // later accumulation into one Grad changes neither the other nor the seed.
    [Fact]
    public void AdoptedLeafGradientsDoNotAlias()
    {
        using var scope = TensorScope.Open();
        var a = Tensor.FromArray(new float[] { 1, 2, 3 });
        var b = Tensor.FromArray(new float[] { 4, 5, 6 });
        var w = Tensor.FromArray(new float[] { 2, 2, 2 });
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        w.RequiresGrad = true;
        Tape.Backward(Ops.Sum(Ops.Add(a, b)));                           // a and b get views of one gradient
        Tape.Backward(Ops.Sum(Ops.Mul(a, w)));                           // accumulates into a.Grad only; w adopts dw
        Assert.Equal(new float[] { 3, 3, 3 }, a.Grad!.ToArray<float>());
        Assert.Equal(new float[] { 1, 1, 1 }, b.Grad!.ToArray<float>());
        Assert.Equal(new float[] { 1, 2, 3 }, w.Grad!.ToArray<float>());

        var c = Tensor.FromArray(new float[] { 1, 1 });
        c.RequiresGrad = true;
        var seed = Tensor.FromArray(new float[] { 5, 7 });
        Tape.Backward(Ops.Contiguous(c), seed);                          // Contiguous hands the seed itself to c
        Tape.Backward(Ops.Contiguous(c), seed);
        Assert.Equal(new float[] { 10, 14 }, c.Grad!.ToArray<float>());
        Assert.Equal(new float[] { 5, 7 }, seed.ToArray<float>());
        foreach (var t in new[] { a, b, w, c }) t.Dispose();
    }

    // Narrow gradients are added into one buffer per sliced tensor (Tape.RecordNarrow). The same function written
    // without Narrow (masks over the whole tensor) gives the reference gradient: slices that split the last
    // dimension (Mamba's z | xBC | dt), overlapping slices, a full-tensor use next to the slices (before and after
    // them on the tape), a slice of a slice, and a sliced leaf.
    [Fact]
    public void NarrowGradientsAccumulateLikeMasks()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(17);
        var xv = rng.Normal([3, 10]).ToArray<float>();
        var wv = rng.Normal([3, 10]).ToArray<float>();

        (float[] X, float[] W) Grads(bool useNarrow)
        {
            var x = Tensor.FromArray(xv, [3, 10]);
            var w = Tensor.FromArray(wv, [3, 10]);
            x.RequiresGrad = true;
            w.RequiresGrad = true;
            var h = Ops.Mul(x, w);                                        // non-leaf, sliced below
            Tensor Slice(Tensor t, int start, int length)
            {
                if (useNarrow) return Ops.Narrow(t, 1, start, length);
                var mask = new float[t.Shape[0] * t.Shape[1]];
                for (int r = 0; r < t.Shape[0]; r++)
                    for (int c = start; c < start + length; c++) mask[r * t.Shape[1] + c] = 1;
                return Ops.Mul(t, Tensor.FromArray(mask, t.Shape));     // same values in place, zeros elsewhere
            }
            var early = Ops.Sum(Ops.Square(h));                           // full use recorded before the slices
            var z = Ops.Sum(Ops.Exp(Slice(h, 0, 4)));
            var inner = Ops.Sum(Ops.Tanh(useNarrow ? Ops.Narrow(Ops.Narrow(h, 1, 4, 5), 1, 1, 3) : Slice(h, 5, 3))); // a slice of a slice
            var dt = Ops.Sum(Ops.Mul(Slice(h, 9, 1), Slice(h, 9, 1)));
            var overlap = Ops.Sum(Ops.Sigmoid(Slice(h, 2, 6)));
            var leaf = Ops.Sum(Ops.Square(Slice(w, 3, 4)));               // a sliced leaf
            var loss = Ops.Add(Ops.Add(Ops.Add(early, z), Ops.Add(inner, dt)), Ops.Add(overlap, leaf));
            Tape.Backward(loss);
            return (x.Grad!.ToArray<float>(), w.Grad!.ToArray<float>());
        }

        var (xn, wn) = Grads(useNarrow: true);
        var (xm, wm) = Grads(useNarrow: false);
        for (int i = 0; i < xn.Length; i++)
        {
            Assert.Equal(xm[i], xn[i], 5e-6f * Math.Max(1, Math.Abs(xm[i])));   // float32 sums in another order
            Assert.Equal(wm[i], wn[i], 5e-6f * Math.Max(1, Math.Abs(wm[i])));
        }
    }
}

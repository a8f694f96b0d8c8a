// Tape.AccumulateSlice allocates a sliced non-leaf's gradient buffer empty and zeroes only what no slice wrote, when
// the buffer is first read: the gradient must be exactly what a zero-filled buffer gave, for slices that cover the
// dimension (a split), leave gaps, overlap, or are read through a slice of a slice.
using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Autograd;

public class TapeSliceBufferTests
{
    /// <summary>
    /// h = x·w (3, 10) is used only through the given column slices, each summed: dx = w on every column some slice
    /// covers (times the number of slices covering it), exactly 0·w (zero of w's sign) elsewhere.
    /// </summary>
    [Theory]
    [InlineData(new[] { 0, 4, 4, 5, 9, 1 })]           // a split covering all columns (z | xBC | dt)
    [InlineData(new[] { 1, 3, 6, 2 })]                 // gaps at 0, 4..5 and 8..9
    [InlineData(new[] { 2, 3 })]                       // one slice in the middle
    [InlineData(new[] { 0, 5, 3, 4 })]                 // overlapping slices (3..4 twice), a gap at 7..9
    [InlineData(new[] { 7, 3, 0, 2 })]                 // out of order, a gap at 2..6
    public void GapsAreExactZerosAndSlicesExactGradients(int[] slices)
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(23);
        var x = rng.Normal([3, 10]);                   // (3, 10)
        var w = rng.Normal([3, 10]);                   // (3, 10)
        x.RequiresGrad = true;
        var h = Ops.Mul(x, w);
        Tensor? loss = null;
        var cover = new int[10];
        for (int i = 0; i < slices.Length; i += 2)
        {
            var part = Ops.Sum(Ops.Narrow(h, 1, slices[i], slices[i + 1]));
            loss = loss is null ? part : Ops.Add(loss, part);
            for (int c = slices[i]; c < slices[i] + slices[i + 1]; c++) cover[c]++;
        }
        Tape.Backward(loss!);
        var dx = x.Grad!.ToArray<float>();
        var wv = w.ToArray<float>();
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 10; c++)
            {
                float want = cover[c] switch { 0 => 0f * wv[r * 10 + c], 1 => wv[r * 10 + c], _ => wv[r * 10 + c] + wv[r * 10 + c] }; // 0·w: ±0 as w's sign
                Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(dx[r * 10 + c]));
            }
    }

    [Fact]
    public void ASliceOfASliceZeroesTheInnerGaps()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(29);
        var x = rng.Normal([2, 12]);                   // (2, 12)
        x.RequiresGrad = true;
        var h = Ops.Exp(x);
        var mid = Ops.Narrow(h, 1, 2, 8);              // columns 2..9, non-leaf, used only through its own slice
        Tape.Backward(Ops.Sum(Ops.Narrow(mid, 1, 3, 2)));  // columns 5..6 of h
        var dx = x.Grad!.ToArray<float>();
        var hv = h.ToArray<float>();
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 12; c++)
                Assert.Equal(c is 5 or 6 ? hv[r * 12 + c] : 0f, dx[r * 12 + c]);
    }
}

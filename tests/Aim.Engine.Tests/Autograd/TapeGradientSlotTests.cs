// Tape.GradientSlot: inside a backward, a view of the Narrow parent's gradient buffer where the input's gradient goes
// unchanged. It is offered only when that is safe (the input's only reader, a non-leaf parent, the slice not written
// yet); a backward that writes it and returns it skips the copy, one that ignores it gets the ordinary path. Either
// way the gradients must equal the definition.
using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Autograd;

public class TapeGradientSlotTests
{
    /// <summary>
    /// y = 3·z recorded by hand: the backward asks for z's slot and, when <paramref name="useSlot"/>, writes 3·g into it
    /// and returns it; otherwise returns a fresh tensor. Records whether a slot was offered.
    /// </summary>
    private static Tensor Triple(Tensor z, bool useSlot, List<bool> offered)
    {
        Tensor y;
        using (Tape.NoGrad()) y = Ops.Scale(z, 3);
        Tape.Record("Triple", y, [z], g =>
        {
            var slot = Tape.GradientSlot(z);
            offered.Add(slot is not null);
            using var tripled = Ops.Scale(g, 3);
            if (useSlot && slot is not null)
            {
                Ops.CopyInto(tripled, slot);
                return [slot];
            }
            return [Ops.Contiguous(tripled)];
        });
        return y;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASoleReaderOfASliceGetsASlotAndTheGradientIsExact(bool useSlot)
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(31);
        var a = rng.Normal([4, 9]);                     // (4, 9)
        a.RequiresGrad = true;
        var p = Ops.Exp(a);                              // non-leaf parent (4, 9)
        var offered = new List<bool>();
        var y = Triple(Ops.Narrow(p, 1, 2, 4), useSlot, offered);            // columns 2..5
        var rest = Ops.Sum(Ops.Narrow(p, 1, 7, 2));                         // columns 7..8; 0, 1 and 6 unused
        Tape.Backward(Ops.Add(Ops.Sum(y), rest));
        Assert.Equal([true], offered);
        var pv = p.ToArray<float>();
        var da = a.Grad!.ToArray<float>();
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 9; c++)
            {
                float scale = c is >= 2 and <= 5 ? 3 : c is 7 or 8 ? 1 : 0;
                Assert.Equal(scale * pv[r * 9 + c], da[r * 9 + c], 6);
            }
        Assert.Equal(0, Tape.Count);
    }

    [Fact]
    public void NoSlotWhenTheSliceHasAnotherReader()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(37);
        var a = rng.Normal([3, 8]);
        a.RequiresGrad = true;
        var p = Ops.Exp(a);
        var z = Ops.Narrow(p, 1, 1, 5);
        var offered = new List<bool>();
        var loss = Ops.Add(Ops.Sum(Triple(z, true, offered)), Ops.Sum(Ops.Mul(z, z)));   // dz = 3 + 2z
        Tape.Backward(loss);
        Assert.Equal([false], offered);
        var pv = p.ToArray<float>();
        var da = a.Grad!.ToArray<float>();
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 8; c++)
            {
                float v = pv[r * 8 + c];
                Assert.Equal(c is >= 1 and <= 5 ? (3 + 2 * v) * v : 0f, da[r * 8 + c], 5);
            }
    }

    [Fact]
    public void NoSlotWhenTheParentIsALeafOrOutsideABackward()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(41);
        var a = rng.Normal([2, 6]);
        a.RequiresGrad = true;
        var z = Ops.Narrow(a, 1, 0, 3);
        Assert.Null(Tape.GradientSlot(z));
        var offered = new List<bool>();
        Tape.Backward(Ops.Sum(Triple(z, true, offered)));
        Assert.Equal([false], offered);
        var da = a.Grad!.ToArray<float>();
        for (int i = 0; i < da.Length; i++) Assert.Equal(i % 6 < 3 ? 3f : 0f, da[i]);
    }

    [Fact]
    public void TwoSlotsOfOneParentInOneBackwardShareItsBuffer()
    {
        // One op reads two disjoint slices; it uses the first slot and ignores the second, so the buffer made for the
        // slots must survive (the first slice's values) and the ignored slice goes through the ordinary copy.
        using var scope = TensorScope.Open();
        var rng = new Rng(43);
        var a = rng.Normal([3, 7]);
        a.RequiresGrad = true;
        var p = Ops.Exp(a);
        var left = Ops.Narrow(p, 1, 0, 3);
        var right = Ops.Narrow(p, 1, 4, 3);
        Tensor y;
        using (Tape.NoGrad()) y = Ops.Add(left, right);
        Tape.Record("AddTwoSlices", y, [left, right], g =>
        {
            var sl = Tape.GradientSlot(left);
            var sr = Tape.GradientSlot(right);
            Assert.NotNull(sl);
            Assert.NotNull(sr);
            using var twice = Ops.Scale(g, 2);
            Ops.CopyInto(twice, sl!);
            return [sl, Ops.Scale(g, 5)];
        });
        Tape.Backward(Ops.Sum(y));
        var pv = p.ToArray<float>();
        var da = a.Grad!.ToArray<float>();
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 7; c++)
                Assert.Equal((c < 3 ? 2 : c == 3 ? 0 : 5) * pv[r * 7 + c], da[r * 7 + c], 5);
    }

    [Fact]
    public void ASlotReachesTheNarrowThroughAReshapeView()
    {
        // Mamba's x: the conv output's columns split into (heads, head dim) by a Reshape of the Narrow.
        using var scope = TensorScope.Open();
        var rng = new Rng(47);
        var a = rng.Normal([2, 3, 9]);
        a.RequiresGrad = true;
        var p = Ops.Exp(a);                                                 // (2, 3, 9), not a leaf
        var offered = new List<bool>();
        var y = Triple(Ops.Reshape(Ops.Narrow(p, 2, 3, 4), 2, 3, 2, 2), true, offered);   // columns 3..6 as (2, 2)
        Tape.Backward(Ops.Add(Ops.Sum(y), Ops.Sum(Ops.Narrow(p, 2, 0, 2))));                // columns 0..1 too
        Assert.Equal([true], offered);
        var pv = p.ToArray<float>();
        var da = a.Grad!.ToArray<float>();
        for (int i = 0; i < da.Length; i++)
        {
            int c = i % 9;
            Assert.Equal((c is >= 3 and <= 6 ? 3 : c < 2 ? 1 : 0) * pv[i], da[i], 5);
        }
    }

    [Fact]
    public void NoSlotWhenTheReshapeCannotBeAViewOfTheSlice()
    {
        // Columns 1..2 of (2, 6, 4) merged with the rows: (2, 12) is not a view of the strided slice.
        using var scope = TensorScope.Open();
        var rng = new Rng(53);
        var a = rng.Normal([2, 6, 4]);
        a.RequiresGrad = true;
        var p = Ops.Exp(a);
        var offered = new List<bool>();
        var y = Triple(Ops.Reshape(Ops.Narrow(p, 2, 1, 2), 2, 12), true, offered);
        Tape.Backward(Ops.Sum(y));
        Assert.Equal([false], offered);
        var pv = p.ToArray<float>();
        var da = a.Grad!.ToArray<float>();
        for (int i = 0; i < da.Length; i++) Assert.Equal(i % 4 is 1 or 2 ? 3 * pv[i] : 0f, da[i], 5);
    }
}

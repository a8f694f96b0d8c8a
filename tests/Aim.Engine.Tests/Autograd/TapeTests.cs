using Aim.Engine.Autograd;
using Aim.Engine.Operations;
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
}

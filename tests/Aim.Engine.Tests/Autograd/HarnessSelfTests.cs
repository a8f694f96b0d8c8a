using Aim.BackendOps;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Autograd;

/// <summary>The harness itself must be able to fail: a wrong backward or a wrong kernel is caught.</summary>
public class HarnessSelfTests
{
    [Fact]
    public void GradCheckCatchesAWrongBackward()
    {
        // Forward y = x*x but with the gradient cut off: the analytic gradient (from a detached copy) is wrong.
        var bad = new OpCase("Broken", "detached-square", rng => [rng.Normal([7])], x =>
        {
            var y = Ops.Mul(x[0], x[0]);
            Tensor hidden;
            using (Aim.Engine.Autograd.Tape.NoGrad()) hidden = Ops.Mul(x[0], x[0]); // invisible to the tape
            return [Ops.Add(y, hidden)];
        });
        Assert.False(Harness.GradCheck(bad).Passed);
    }

    [Fact]
    public void CompareCatchesADifferentResult()
    {
        var c = new OpCase("Broken", "differs", rng => [rng.Normal([31])], x => [Ops.Exp(x[0])]);
        var result = Harness.Compare(c, "fake", (oc, inputs) => [Ops.Exp(Ops.AddScalar(inputs[0], 1e-3))]);
        Assert.False(result.Passed);
    }
}

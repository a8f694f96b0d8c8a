using Aim.BackendOps;
using Aim.Engine.Kernels;
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

    [Fact]
    public void SampleTokensComparisonIsExact()
    {
        // The same SampleTokens case with the guidance scale changed (4 for 5) on the "target": some token must change, and the
        // exact comparison (MaxNmse 0) must see it.
        var c = OpCases.ByName("SampleTokens(V=257,B=8,defaults,mixed-steps)");
        Assert.Equal(0, c.MaxNmse);
        var result = Harness.Compare(c, "fake", (oc, inputs) =>
        {
            int b = inputs[0].Shape[0] / 2;
            var steps = Ops.Clone(inputs[1]);
            var history = Ops.Clone(inputs[2]);
            var tokens = Tensor.Empty([2 * b], DType.Int64);
            var positions = Tensor.Empty([2 * b], DType.Int64);
            var settings = new SampleSettings(4, 600, 0.98, 1, 0x5A3D1EUL, ulong.MaxValue - 2, 1);
            Ops.SampleTokens(inputs[0], steps, tokens, positions, history, settings);
            return [tokens, steps, positions, history];
        });
        Assert.False(result.Passed, result.ToString());
        Assert.True(Harness.CompareCpu(c).Passed);
    }
}

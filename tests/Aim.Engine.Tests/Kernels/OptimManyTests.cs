using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// The optimizer list kernels: their harness cases (CPU vs reference, bit-identity with the single kernels), and
/// AdamW.Step giving the bits of the per-tensor path it replaced (norm read on the host, one AdamWStep per tensor).
/// </summary>
public class OptimManyTests
{
    public static TheoryData<string> Cases() =>
        [.. OpCases.All.Where(c => c.Op is "AdamWStepMany" or "SquaredNormPartialsMany" or "GradClipScale").Select(c => c.ToString())];

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuMatchesReference(string name)
    {
        var result = Harness.CompareCpu(OpCases.ByName(name));
        Assert.True(result.Passed, result.ToString());
    }

    [Fact]
    public void ListKernelsHaveCases()
    {
        var ops = OpCases.All.Select(c => c.Op).ToHashSet();
        Assert.Contains("AdamWStepMany", ops);
        Assert.Contains("SquaredNormPartialsMany", ops);
        Assert.Contains("GradClipScale", ops);
    }

    /// <summary>The path AdamW.Step took before the list kernels: host-read norm, host clip scale, AdamWStep per tensor.</summary>
    private static double PerTensorStep(IReadOnlyList<(Tensor P, Tensor M, Tensor V, bool Decay)> slots, AdamWOptions o, long step, double lr, double gradScale, double maxNorm)
    {
        var grads = slots.Select(s => s.P.Grad!).ToList();
        var counts = grads.Select(g => (int)Math.Clamp((g.Count + 8191) / 8192, 1, 128)).ToArray();
        using var partials = Tensor.Empty([counts.Sum()]);
        int at = 0;
        for (int i = 0; i < grads.Count; i++)
        {
            Ops.SquaredNormPartials(grads[i], Ops.Narrow(partials, 0, at, counts[i]));
            at += counts[i];
        }
        double norm = Math.Sqrt(Ops.Sum(partials).Item()) * Math.Abs(gradScale);
        double scale = gradScale * GradClip.Coefficient(norm, maxNorm);
        foreach (var (p, m, v, decay) in slots)
            Ops.AdamWStep(p, p.Grad!, m, v, new AdamWHyper(lr, o.Beta1, o.Beta2, o.Eps, decay ? o.WeightDecay : 0, step, scale));
        return norm;
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, 0.25)]
    [InlineData(1e6, 1.0)]
    public void StepGivesTheBitsOfThePerTensorPath(double maxNorm, double gradScale)
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(7);
        int[][] shapes = [[1], [7], [31], [257], [3, 31], [70001], [40, 1000]];
        var a = shapes.Select(s => TensorScope.Detach(rng.Normal(s))).ToList();
        var b = a.Select(t => TensorScope.Detach(Ops.Clone(t))).ToList();
        foreach (var t in a.Concat(b)) t.RequiresGrad = true;
        var opts = new AdamWOptions();
        using var opt = new AdamW(a.Select((t, i) => ($"p{i}", t)), opts);
        var slots = b.Select(t => (P: t, M: TensorScope.Detach(Tensor.Zeros(t.Shape)), V: TensorScope.Detach(Tensor.Zeros(t.Shape)), Decay: t.Rank >= 2)).ToList();
        for (int step = 1; step <= 3; step++)
        {
            using var stepScope = TensorScope.Open();
            for (int i = 0; i < a.Count; i++)
            {
                var g = rng.Normal(a[i].Shape);
                Tape.Backward(Ops.Sum(Ops.Mul(a[i], g)));
                Tape.Backward(Ops.Sum(Ops.Mul(b[i], g)));
            }
            double n1 = opt.Step(1e-2, gradScale, maxNorm);
            double n2 = PerTensorStep(slots, opts, step, 1e-2, gradScale, maxNorm);
            Assert.Equal(n2, n1);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.Equal(b[i].ToArray<float>(), a[i].ToArray<float>());
                a[i].ZeroGrad();
                b[i].ZeroGrad();
            }
        }
        var state = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(slots[i].M.ToArray<float>(), state[$"m/p{i}"].ToArray<float>());
            Assert.Equal(slots[i].V.ToArray<float>(), state[$"v/p{i}"].ToArray<float>());
        }
    }

    [Fact]
    public void IssueStepReadsTheNormLazilyAndReferenceLoopsTheSingleKernel()
    {
        using var scope = TensorScope.Open();
        var p = TensorScope.Detach(Tensor.FromArray(new float[] { 1, 2 }, [2]));
        p.RequiresGrad = true;
        Tape.Backward(Ops.Sum(Ops.Mul(p, Tensor.FromArray(new float[] { 3, 4 }, [2]))));
        using var opt = new AdamW([("p", p)]);
        using (var pending = opt.IssueStep(0.1, 0.5, 1))
        {
            Assert.Equal(2.5, pending.Value, 6);
            Assert.Equal(2.5, pending.Value, 6);
        }
        Assert.Equal(1, opt.StepCount);
        var reference = new ReferenceKernels();
        using var sum = Tensor.FromArray(new float[] { 25 }, [1]);
        using var outp = Tensor.Empty([1]);
        reference.GradClipScale(sum, 0.5, 1, outp);
        Assert.Equal((float)(0.5 * GradClip.Coefficient(2.5, 1)), outp.ToArray<float>()[0]);
    }

    [Fact]
    public void NonFiniteNormUnderClippingLeavesWeightsAndMomentsUnchanged()
    {
        using var scope = TensorScope.Open();
        var p = TensorScope.Detach(Tensor.FromArray(new float[] { 1, 2, 3 }, [3]));
        p.RequiresGrad = true;
        Tape.Backward(Ops.Sum(Ops.Mul(p, Tensor.FromArray(new float[] { 0.5f, float.NaN, 1 }, [3]))));
        using var opt = new AdamW([("p", p)]);
        double norm = opt.Step(0.1, 1, maxNorm: 1);
        Assert.True(double.IsNaN(norm));
        Assert.Equal(new float[] { 1, 2, 3 }, p.ToArray<float>());
        Assert.All(opt.StateTensors(), kv => Assert.All(kv.Value.ToArray<float>(), x => Assert.Equal(0f, x)));
    }
}

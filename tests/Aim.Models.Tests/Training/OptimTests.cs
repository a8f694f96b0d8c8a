using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Optim;
using Aim.Engine.Tensors;

namespace Aim.Models.Tests.Training;

/// <summary>AdamW against a hand computation, global-norm clipping, schedules and EMA.</summary>
public class OptimTests
{
    /// <summary>torch.optim.AdamW for one scalar, written out in double.</summary>
    private static (double P, double M, double V) Hand(double p, double m, double v, double g, double lr, double wd, int t)
    {
        const double b1 = 0.9, b2 = 0.95, eps = 1e-8;
        p *= 1 - lr * wd;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        double mhat = m / (1 - Math.Pow(b1, t)), vhat = v / (1 - Math.Pow(b2, t));
        return (p - lr * mhat / (Math.Sqrt(vhat) + eps), m, v);
    }

    [Fact]
    public void AdamWMatchesHandComputationWithDecayOnMatricesOnly()
    {
        using var scope = TensorScope.Open();
        float[] w0 = [0.5f, -1.25f, 2f, 0.125f], b0 = [0.3f, -0.7f];
        var w = TensorScope.Detach(Tensor.FromArray(w0, [2, 2]));
        var b = TensorScope.Detach(Tensor.FromArray(b0, [2]));
        w.RequiresGrad = b.RequiresGrad = true;
        using var opt = new AdamW([("w", w), ("b", b)], new AdamWOptions { WeightDecay = 0.1 });
        double[] pw = [.. w0.Select(x => (double)x)], pb = [.. b0.Select(x => (double)x)];
        var (mw, vw, mb, vb) = (new double[4], new double[4], new double[2], new double[2]);
        double lr = 0.01;
        for (int t = 1; t <= 3; t++)
        {
            // loss = Σ w² · t + Σ b: dL/dw = 2·t·w, dL/db = 1.
            var loss = Ops.Add(Ops.Scale(Ops.Sum(Ops.Square(w)), t), Ops.Sum(b));
            Tape.Backward(loss);
            opt.Step(lr);
            w.ZeroGrad();
            b.ZeroGrad();
            for (int i = 0; i < 4; i++) (pw[i], mw[i], vw[i]) = Hand(pw[i], mw[i], vw[i], 2 * t * pw[i], lr, 0.1, t);
            for (int i = 0; i < 2; i++) (pb[i], mb[i], vb[i]) = Hand(pb[i], mb[i], vb[i], 1, lr, 0, t);
            var gotW = w.ToArray<float>();
            var gotB = b.ToArray<float>();
            for (int i = 0; i < 4; i++) Assert.True(Math.Abs(gotW[i] - pw[i]) < 1e-6, $"t={t} w[{i}] {gotW[i]} vs {pw[i]}");
            for (int i = 0; i < 2; i++) Assert.True(Math.Abs(gotB[i] - pb[i]) < 1e-6, $"t={t} b[{i}] {gotB[i]} vs {pb[i]}");
            // keep the hand copy in float, as the parameter is
            for (int i = 0; i < 4; i++) pw[i] = gotW[i];
            for (int i = 0; i < 2; i++) pb[i] = gotB[i];
        }
        Assert.Equal(3, opt.StepCount);
        Assert.True(opt.Decays("w"));
        Assert.False(opt.Decays("b"));
    }

    [Fact]
    public void ClippingScalesTheGlobalNormAndAccumulationAverages()
    {
        using var scope = TensorScope.Open();
        var a = TensorScope.Detach(Tensor.FromArray(new float[] { 0, 0 }, [2]));
        var c = TensorScope.Detach(Tensor.FromArray(new float[] { 0 }, [1]));
        a.RequiresGrad = c.RequiresGrad = true;
        // Two micro-batches with gradients (3, 0 | 4) and (3, 0 | 4): sum (6, 0 | 8), average (3, 0 | 4), norm 5.
        for (int k = 0; k < 2; k++)
            Tape.Backward(Ops.Add(Ops.Sum(Ops.Mul(a, Tensor.FromArray(new float[] { 3, 0 }, [2]))), Ops.Scale(Ops.Sum(c), 4)));
        using var opt = new AdamW([("a", a), ("c", c)], new AdamWOptions { WeightDecay = 0 });
        Assert.Equal(5.0, opt.GradientNorm(0.5), 6);
        Assert.Equal(1.0 / (5 + 1e-6), GradClip.Coefficient(5, 1), 12);
        Assert.Equal(1.0, GradClip.Coefficient(0.5, 1));
        Assert.Equal(1.0, GradClip.Coefficient(50, 0));
        double norm = opt.Step(lr: 0.1, gradScale: 0.5, maxNorm: 1);
        Assert.Equal(5.0, norm, 6);
        // First Adam step moves every coordinate with a non-zero gradient by lr·sign(g) (up to ε): the clip
        // scale cancels in m/√v; the zero-gradient coordinate stays.
        var got = a.ToArray<float>();
        Assert.Equal(-0.1, got[0], 5);
        Assert.Equal(0.0, got[1], 7);
        Assert.Equal(-0.1, c.ToArray<float>()[0], 5);
    }

    [Fact]
    public void ClippedUpdateEqualsUpdateWithScaledGradient()
    {
        using var scope = TensorScope.Open();
        Tensor Make() { var t = TensorScope.Detach(Tensor.FromArray(new float[] { 1, 2, 3 }, [3])); t.RequiresGrad = true; return t; }
        var p1 = Make();
        var p2 = Make();
        using var o1 = new AdamW([("p", p1)]);
        using var o2 = new AdamW([("p", p2)]);
        for (int t = 0; t < 3; t++)
        {
            var g = Tensor.FromArray(new float[] { 30, -40, 0 }, [3]);
            Tape.Backward(Ops.Sum(Ops.Mul(p1, g)));
            Tape.Backward(Ops.Sum(Ops.Mul(p2, Ops.Scale(g, 1 / (50 + 1e-6)))));
            o1.Step(0.01, 1, maxNorm: 1);
            o2.Step(0.01);
            p1.ZeroGrad();
            p2.ZeroGrad();
        }
        var a = p1.ToArray<float>();
        var b = p2.ToArray<float>();
        for (int i = 0; i < 3; i++) Assert.Equal(b[i], a[i], 6);
    }

    [Fact]
    public void SchedulesFollowHuggingFace()
    {
        var lin = new LrSchedule(1.0, 10, 110, ScheduleKind.Linear).Validate();
        Assert.Equal(0.0, lin.At(0));
        Assert.Equal(0.5, lin.At(5), 12);
        Assert.Equal(1.0, lin.At(10), 12);
        Assert.Equal(0.5, lin.At(60), 12);
        Assert.Equal(0.0, lin.At(110), 12);
        Assert.Equal(0.0, lin.At(200), 12);
        var cos = new LrSchedule(1.0, 0, 100, ScheduleKind.Cosine, 0.1).Validate();
        Assert.Equal(1.0, cos.At(0), 12);
        Assert.Equal(0.55, cos.At(50), 12);
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), cos.At(25), 12);
        Assert.Equal(0.1, cos.At(100), 12);
        Assert.Equal(0.1, cos.At(150), 12);
        Assert.Equal(1.0, new LrSchedule(1.0, 0, 5, ScheduleKind.Constant).At(4));
        Assert.Throws<ArgumentException>(() => new LrSchedule(1.0, 0, 5, ScheduleKind.Cosine, 2.0).Validate());
        Assert.Equal(ScheduleKind.Cosine, LrSchedule.ParseKind("cosine"));
        Assert.Throws<ArgumentException>(() => LrSchedule.ParseKind("step"));
    }

    [Fact]
    public void EmaFollowsTheWeights()
    {
        using var scope = TensorScope.Open();
        var p = TensorScope.Detach(Tensor.FromArray(new float[] { 0, 10 }, [2]));
        using var ema = new WeightEma([("p", p)], 0.9);
        Ops.CopyInto(Tensor.FromArray(new float[] { 1, 0 }, [2]), p);
        ema.Update();
        ema.Update();
        var got = ema.Weights().Single().Value.ToArray<float>();
        // e1 = 0.9·e0 + 0.1·p, e2 = 0.9·e1 + 0.1·p.
        Assert.Equal(0.19, got[0], 6);
        Assert.Equal(8.1, got[1], 5);
        p.Dispose();
    }
}

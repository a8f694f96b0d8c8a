using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// Behaviours of the norm, softmax, cross-entropy and embedding ops that the harness does not cover:
/// error messages for bad ids, exactness of the fused residual sum, gated-norm group semantics against a
/// hand computation, gradient routing of the two-output AddRmsNorm, and thread-count independence.
/// </summary>
public class NormOpsTests
{
    private static readonly ReferenceKernels s_reference = new();

    [Theory]
    [InlineData(5L)]
    [InlineData(-1L)]
    [InlineData(1000L)]
    public void CrossEntropy_BadTarget_ThrowsNamingOpAndId(long bad)
    {
        using var scope = TensorScope.Open();
        var logits = new Rng(1).Normal([3, 5]);
        var targets = Tensor.FromArray(new[] { 0L, bad, 2L }, [3]);
        var ex = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(logits, targets));
        Assert.Contains("CrossEntropy", ex.Message);
        Assert.Contains(bad.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        using (Backend.UseCpuKernels(s_reference))
        {
            var ex2 = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(logits, targets));
            Assert.Contains("CrossEntropy", ex2.Message);
        }
    }

    [Fact]
    public void CrossEntropy_MatchesHandComputation_AndAcceptsInt32Targets()
    {
        using var scope = TensorScope.Open();
        float[] l = [1f, 2f, 3f, 0.5f, -1f, 4f];
        var logits = Tensor.FromArray(l, [2, 3]);
        double row0 = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3;
        double row1 = Math.Log(Math.Exp(0.5) + Math.Exp(-1) + Math.Exp(4)) - 0.5;
        double expected = (row0 + row1) / 2;
        Assert.Equal(expected, Ops.CrossEntropy(logits, Tensor.FromArray(new[] { 2L, 0L }, [2])).Item(), 5);
        Assert.Equal(expected, Ops.CrossEntropy(logits, Tensor.FromArray(new[] { 2, 0 }, [2])).Item(), 5);
    }

    [Fact]
    public void CrossEntropy_Backward_IsSoftmaxMinusOneHotOverN()
    {
        using var scope = TensorScope.Open();
        var logits = new Rng(3).Normal([4, 7]);
        logits.RequiresGrad = true;
        var targets = Tensor.FromArray(new[] { 6L, 0L, 3L, 3L }, [4]);
        var loss = Ops.CrossEntropy(logits, targets);
        Tape.Backward(loss);
        float[] g = logits.Grad!.ToFloatArray();
        float[] p;
        using (Tape.NoGrad()) p = Ops.Softmax(logits).ToFloatArray();
        long[] t = [6, 0, 3, 3];
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 7; j++)
                Assert.Equal((p[n * 7 + j] - (j == t[n] ? 1 : 0)) / 4.0, g[n * 7 + j], 6);
        logits.ZeroGrad();
    }

    [Fact]
    public void Embedding_BadId_ThrowsNamingOpAndId()
    {
        using var scope = TensorScope.Open();
        var weight = new Rng(2).Normal([4, 3]);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Embedding(weight, Tensor.FromArray(new[] { 1, 4 }, [2])));
        Assert.Contains("Embedding", ex.Message);
        Assert.Contains("4", ex.Message);
        var dOut = Tensor.Zeros([2, 3]);
        var dW = Tensor.Zeros([4, 3]);
        var ex2 = Assert.Throws<ArgumentException>(() => Backend.Cpu.Kernels.EmbeddingBackward(Tensor.FromArray(new[] { -2L, 0L }, [2]), dOut, dW));
        Assert.Contains("EmbeddingBackward", ex2.Message);
        Assert.Contains("-2", ex2.Message);
    }

    [Fact]
    public void Embedding_Backward_AccumulatesRepeatedIds()
    {
        using var scope = TensorScope.Open();
        var weight = Tensor.Zeros([3, 2]);
        weight.RequiresGrad = true;
        var ids = Tensor.FromArray(new[] { 2L, 0L, 2L, 2L }, [2, 2]);
        var y = Ops.Embedding(weight, ids);
        Assert.Equal([2, 2, 2], y.Shape.ToArray());
        var seed = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f }, [2, 2, 2]);
        Tape.Backward(y, seed);
        Assert.Equal(new[] { 3f, 4f, 0f, 0f, 1f + 5f + 7f, 2f + 6f + 8f }, weight.Grad!.ToFloatArray());
        weight.ZeroGrad();
    }

    [Fact]
    public void AddRmsNorm_ResidualIsTheExactFp32Sum()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(4);
        var hidden = rng.Normal([5, 257], std: 3);
        var residual = rng.Normal([5, 257], std: 100);
        var weight = rng.Uniform([257], 0.5, 1.5);
        var (normed, sum) = Ops.AddRmsNorm(hidden, residual, weight, 1e-5);
        Assert.Equal(Ops.Add(residual, hidden).ToFloatArray(), sum.ToFloatArray());
        Assert.Equal(Ops.RmsNorm(sum, weight, 1e-5).ToFloatArray(), normed.ToFloatArray());

        var (normed0, sum0) = Ops.AddRmsNorm(hidden, null, weight, 1e-5);
        Assert.Equal(hidden.ToFloatArray(), sum0.ToFloatArray());
        Assert.NotEqual(hidden.DataPointer, sum0.DataPointer);
        Assert.Equal(Ops.RmsNorm(hidden, weight, 1e-5).ToFloatArray(), normed0.ToFloatArray());
    }

    [Fact]
    public void AddRmsNorm_GradientsReachHiddenResidualAndWeight()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(5);
        var hidden = rng.Normal([3, 7]);
        var residual = rng.Normal([3, 7]);
        var weight = rng.Uniform([7], 0.5, 1.5);
        foreach (var t in new[] { hidden, residual, weight }) t.RequiresGrad = true;

        // Only the residual output is used: hidden and residual get ones, weight gets nothing.
        var (_, sum) = Ops.AddRmsNorm(hidden, residual, weight, 1e-5);
        Tape.Backward(Ops.Sum(sum));
        Assert.All(hidden.Grad!.ToFloatArray(), v => Assert.Equal(1f, v));
        Assert.All(residual.Grad!.ToFloatArray(), v => Assert.Equal(1f, v));
        Assert.Null(weight.Grad);
        foreach (var t in new[] { hidden, residual, weight }) t.ZeroGrad();

        // Both outputs used: hidden and residual get the same gradient, equal to the unfused composition's.
        var (n2, s2) = Ops.AddRmsNorm(hidden, residual, weight, 1e-5);
        Tape.Backward(Ops.Add(Ops.Sum(Ops.Mul(n2, n2)), Ops.Sum(Ops.Scale(s2, 0.5))));
        float[] dh = hidden.Grad!.ToFloatArray(), dr = residual.Grad!.ToFloatArray(), dw = weight.Grad!.ToFloatArray();
        Assert.Equal(dh, dr);
        foreach (var t in new[] { hidden, residual, weight }) t.ZeroGrad();

        var r = Ops.Add(residual, hidden);
        var n3 = Ops.RmsNorm(r, weight, 1e-5);
        Tape.Backward(Ops.Add(Ops.Sum(Ops.Mul(n3, n3)), Ops.Sum(Ops.Scale(r, 0.5))));
        AssertClose(hidden.Grad!.ToFloatArray(), dh, 1e-5);
        AssertClose(weight.Grad!.ToFloatArray(), dw, 1e-5);
        foreach (var t in new[] { hidden, residual, weight }) t.ZeroGrad();
    }

    [Fact]
    public void GatedRmsNorm_NormalisesEachGroupSeparately()
    {
        using var scope = TensorScope.Open();
        float[] x = [1f, -2f, 0.5f, 3f, 2f, 1f];
        float[] z = [0.3f, 1.5f, -0.7f, 2f, 0f, -1f];
        float[] w = [1f, 2f, 0.5f, 1.5f, -1f, 1f];
        const double eps = 1e-5;
        var y = Ops.GatedRmsNorm(Tensor.FromArray(x, [1, 6]), Tensor.FromArray(z, [1, 6]), Tensor.FromArray(w, [6]), eps, 2).ToFloatArray();
        var g = new double[6];
        for (int i = 0; i < 6; i++) g[i] = x[i] * z[i] / (1 + Math.Exp(-z[i]));
        for (int start = 0; start < 6; start += 2)
        {
            double rstd = 1 / Math.Sqrt((g[start] * g[start] + g[start + 1] * g[start + 1]) / 2 + eps);
            for (int i = start; i < start + 2; i++) Assert.Equal(g[i] * rstd * w[i], y[i], 5);
        }
        // One group over the whole row differs from three groups.
        var whole = Ops.GatedRmsNorm(Tensor.FromArray(x, [1, 6]), Tensor.FromArray(z, [1, 6]), Tensor.FromArray(w, [6]), eps, 6).ToFloatArray();
        double rstdAll = 1 / Math.Sqrt(g.Sum(v => v * v) / 6 + eps);
        for (int i = 0; i < 6; i++) Assert.Equal(g[i] * rstdAll * w[i], whole[i], 5);

        var ex = Assert.Throws<ArgumentException>(() => Ops.GatedRmsNorm(Tensor.FromArray(x, [1, 6]), Tensor.FromArray(z, [1, 6]), Tensor.FromArray(w, [6]), eps, 4));
        Assert.Contains("GatedRmsNorm", ex.Message);
    }

    [Fact]
    public void LayerNormAndGroupNorm_MatchHandComputation()
    {
        using var scope = TensorScope.Open();
        float[] x = [1f, 2f, 4f, -1f];
        double mean = 1.5, variance = (0.25 + 0.25 + 6.25 + 6.25) / 4;
        var ln = Ops.LayerNorm(Tensor.FromArray(x, [1, 4]), null, null, 1e-5).ToFloatArray();
        for (int i = 0; i < 4; i++) Assert.Equal((x[i] - mean) / Math.Sqrt(variance + 1e-5), ln[i], 5);

        // GroupNorm (1, 4, 1) with 2 groups: {1, 2} and {4, -1} are normalised separately.
        var gn = Ops.GroupNorm(Tensor.FromArray(x, [1, 4, 1]), 2, Tensor.FromArray(new[] { 1f, 1f, 2f, 2f }, [4]),
            Tensor.FromArray(new[] { 0f, 0f, 0f, 1f }, [4]), 1e-6).ToFloatArray();
        double r0 = 1 / Math.Sqrt(0.25 + 1e-6), r1 = 1 / Math.Sqrt(6.25 + 1e-6);
        double[] expected = [-0.5 * r0, 0.5 * r0, 2 * 2.5 * r1, 2 * -2.5 * r1 + 1];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], gn[i], 5);
    }

    [Fact]
    public void Softmax_RowsSumToOne_ForLargeLogits()
    {
        using var scope = TensorScope.Open();
        var x = new Rng(6).Uniform([3, 257], 1000, 2000);
        var p = Ops.Softmax(x).ToFloatArray();
        var lp = Ops.LogSoftmax(x).ToFloatArray();
        for (int r = 0; r < 3; r++)
        {
            double s = 0;
            for (int j = 0; j < 257; j++)
            {
                Assert.True(float.IsFinite(lp[r * 257 + j]));
                s += p[r * 257 + j];
            }
            Assert.Equal(1.0, s, 5);
        }
    }

    [Fact]
    public void CpuBackwardKernels_DoNotDependOnThreadCount()
    {
        int saved = CpuParallel.MaxThreads;
        try
        {
            float[][] run1 = RunBackwards(1), run4 = RunBackwards(4);
            for (int i = 0; i < run1.Length; i++) Assert.Equal(run1[i], run4[i]);
        }
        finally
        {
            CpuParallel.MaxThreads = saved;
        }
    }

    private static float[][] RunBackwards(int threads)
    {
        CpuParallel.MaxThreads = threads;
        using var scope = TensorScope.Open();
        var rng = new Rng(7);
        int rows = 600, d = 257;
        var x = rng.Normal([rows, d]);
        var w = rng.Uniform([d], 0.5, 1.5);
        var dy = rng.Normal([rows, d]);
        var k = Backend.Cpu.Kernels;
        Tensor dx = Tensor.Empty([rows, d]), dw = Tensor.Empty([d]), dx2 = Tensor.Empty([rows, d]), dw2 = Tensor.Empty([d]), db2 = Tensor.Empty([d]);
        k.RmsNormBackward(x, w, dy, 1e-5, dx, dw);
        k.LayerNormBackward(x, w, dy, 1e-5, dx2, dw2, db2);
        var ids = OpCasesIds(rng, 11, rows);
        var demb = Tensor.Zeros([11, d]);
        k.EmbeddingBackward(ids, dy, demb);
        var loss = Tensor.Empty([1]);
        k.CrossEntropy(x, OpCasesIds(rng, d, rows), loss);
        return [dx.ToFloatArray(), dw.ToFloatArray(), dx2.ToFloatArray(), dw2.ToFloatArray(), db2.ToFloatArray(), demb.ToFloatArray(), loss.ToFloatArray()];
    }

    private static Tensor OpCasesIds(Rng rng, int n, int count) => Aim.BackendOps.OpCases.Ids(rng, n, count);

    private static void AssertClose(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }
}

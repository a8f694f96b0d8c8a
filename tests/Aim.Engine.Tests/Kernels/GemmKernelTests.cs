using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>Direct kernel tests of the CPU SGEMM: alpha/beta, K = 0, beta = 0 ignoring C, thread-count independence.</summary>
public class GemmKernelTests
{
    private static readonly ReferenceKernels s_reference = new();
    private static readonly CpuKernels s_cpu = new();

    private static (Tensor A, Tensor B, Tensor C) Operands(Rng rng, int batchA, int batchB, int batch, int m, int n, int k, bool ta, bool tb)
        => (rng.Normal(ta ? [batchA, k, m] : [batchA, m, k]), rng.Normal(tb ? [batchB, n, k] : [batchB, k, n]), rng.Normal([batch, m, n]));

    private static void AssertClose(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }

    /// <summary>
    /// bf16-stored weights on the CPU's skinny path (row pairs × four weight rows, leftovers one row at a time) against
    /// the reference on the same widened weights: f32 accumulation orders differ, so 1e-5 relative.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 7, 31)]
    [InlineData(3, 257, 33)]
    [InlineData(5, 6, 768)]
    [InlineData(16, 65, 100)]
    public void Bf16WeightsSkinnyMatchesWidenedReference(int m, int n, int k)
    {
        var rng = new Rng(7);
        using var x = rng.Normal([1, m, k]);
        using var wide = rng.Normal([1, n, k]);
        using var w = Tensor.Empty([1, n, k], DType.BFloat16);
        s_cpu.Copy(wide, w);
        using var widened = Tensor.Empty([1, n, k], DType.Float32);
        s_cpu.Copy(w, widened);
        foreach (var (alpha, beta) in new[] { (1.0, 0.0), (0.5, -1.5) })
        {
            using var expected = rng.Normal([1, m, n]);
            using var actual = Tensor.Empty([1, m, n], DType.Float32);
            s_cpu.Copy(expected, actual);
            s_reference.Gemm(x, widened, expected, false, true, alpha, beta);
            s_cpu.Gemm(x, w, actual, false, true, alpha, beta);
            AssertClose(expected.ToArray<float>(), actual.ToArray<float>(), 1e-5);
        }
    }

    [Theory]
    [InlineData(1, 7, 31, 257, false, false)]
    [InlineData(1, 31, 257, 7, true, false)]
    [InlineData(2, 257, 7, 31, false, true)]
    [InlineData(3, 16, 50, 300, false, true)]
    [InlineData(3, 17, 50, 300, true, true)]
    [InlineData(2, 49, 70, 100, false, true)]
    [InlineData(1, 200, 65, 600, false, false)]
    public void AlphaBetaMatchReference(int batch, int m, int n, int k, bool ta, bool tb)
    {
        foreach (var (alpha, beta) in new[] { (1.0, 1.0), (0.5, -1.5), (-2.0, 0.0), (1.0, 0.0) })
        {
            var rng = new Rng(42);
            var (a, b, c) = Operands(rng, batch, 1, batch, m, n, k, ta, tb);
            using (a)
            using (b)
            using (c)
            using (var cRef = Tensor.FromArray(c.ToArray<float>(), c.Shape))
            {
                s_reference.Gemm(a, b, cRef, ta, tb, alpha, beta);
                s_cpu.Gemm(a, b, c, ta, tb, alpha, beta);
                AssertClose(cRef.ToArray<float>(), c.ToArray<float>(), 2e-4);
            }
        }
    }

    [Fact]
    public void BetaZeroIgnoresNaNInC()
    {
        var rng = new Rng(3);
        var (a, b, _) = Operands(rng, 1, 1, 1, 9, 40, 33, false, true);
        foreach (bool tb in new[] { true, false })
        {
            using var bb = tb ? b : rng.Normal([1, 33, 40]);
            using var c = Tensor.Full([1, 9, 40], double.NaN);
            s_cpu.Gemm(a, bb, c, false, tb, 1.0, 0.0);
            Assert.DoesNotContain(c.ToArray<float>(), float.IsNaN);
        }
    }

    [Fact]
    public void EmptyReductionScalesC()
    {
        using var a = Tensor.Zeros([1, 5, 0]);
        using var b = Tensor.Zeros([1, 0, 6]);
        using var c = Tensor.Full([1, 5, 6], 2.0);
        s_cpu.Gemm(a, b, c, false, false, 1.0, 0.5);
        Assert.All(c.ToArray<float>(), v => Assert.Equal(1f, v));
    }

    [Theory]
    [InlineData(300, 700, 520, false, false)]
    [InlineData(5, 3352, 768, false, true)]
    [InlineData(64, 200, 129, true, true)]
    public void ResultDoesNotDependOnThreadCount(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Rng(7);
        var (a, b, _) = Operands(rng, 1, 1, 1, m, n, k, ta, tb);
        int saved = CpuParallel.MaxThreads;
        try
        {
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 3, 8 })
            {
                CpuParallel.MaxThreads = threads;
                using var c = Tensor.Empty([1, m, n]);
                s_cpu.Gemm(a, b, c, ta, tb, 1.0, 0.0);
                var values = c.ToArray<float>();
                if (first is null) first = values;
                else Assert.True(first.AsSpan().SequenceEqual(values), $"threads={threads} changed the bits");
            }
        }
        finally
        {
            CpuParallel.MaxThreads = saved;
        }
    }
}

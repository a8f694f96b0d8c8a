using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// Consistency of the Mamba-2 sequence ops with their inference steps and caches (aim-architecture.md §3.6):
/// token-by-token stepping equals the sequence scan/conv, and splitting a sequence with a carried state equals
/// scanning it whole. Runs on the CPU kernels and on the reference kernels.
/// </summary>
public class SsmTests
{
    private static readonly ReferenceKernels s_reference = new();

    public static TheoryData<bool> Backends() => [false, true];

    private static IDisposable? Use(bool reference) => reference ? Backend.UseCpuKernels(s_reference) : null;

    /// <summary>|expected - actual| ≤ tol · max(1, max |expected|) elementwise (also used by SsdChunkStatesTests).</summary>
    internal static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        double scale = 0;
        foreach (float v in e) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * Math.Max(1, scale), $"{what}[{i}]: expected {e[i]}, got {a[i]} (scale {scale})");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SsmStepTokenByTokenEqualsScan(bool reference)
    {
        using var scope = TensorScope.Open();
        using var k = Use(reference);
        using var noGrad = Tape.NoGrad();
        var rng = new Rng(11);
        int bsz = 2, l = 13, h = 4, g = 2, p = 16, n = 16;
        var x = rng.Normal([bsz, l, h, p]);
        var dt = OpCases.RandDt(rng, bsz, l, h);
        var a = OpCases.RandA(rng, h);
        var b = rng.Normal([bsz, l, g, n]);
        var c = rng.Normal([bsz, l, g, n]);
        var d = rng.Normal([h]);
        var init = rng.Normal([bsz, h, p, n], 0, 0.5);
        var (y, final) = Ops.SsdScan(x, dt, a, b, c, d, 4, init);
        var state = Ops.Clone(init);
        for (int t = 0; t < l; t++)
        {
            var yt = Ops.SsmStep(state, Ops.Select(x, 1, t), Ops.Select(dt, 1, t), a, Ops.Select(b, 1, t), Ops.Select(c, 1, t), d);
            AssertClose(Ops.Select(y, 1, t), yt, 1e-5, $"y step {t}");
        }
        AssertClose(final, state, 1e-5, "final state");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ConvStepAfterFillConvStateEqualsSequenceConv(bool reference)
    {
        using var scope = TensorScope.Open();
        using var k = Use(reference);
        using var noGrad = Tape.NoGrad();
        var rng = new Rng(12);
        int bsz = 2, l = 11, ch = 37, taps = 4;
        foreach (int prefix in new[] { 1, 2, 4, 7 })
        {
            var wide = rng.Normal([bsz, l, ch + 3]);
            var x = Ops.Narrow(wide, 2, 1, ch);                 // strided view, like a Narrow of in_proj
            var w = rng.Uniform([ch, taps], -0.5, 0.5);
            var bias = rng.Uniform([ch], -0.5, 0.5);
            var full = Ops.CausalConv1d(x, w, bias, silu: true);
            var state = Tensor.Empty([bsz, ch, taps]);
            Ops.FillConvState(state, Ops.Narrow(x, 1, 0, prefix));
            for (int t = prefix; t < l; t++)
            {
                var yt = Ops.CausalConv1dStep(state, Ops.Select(x, 1, t), w, bias, silu: true);
                AssertClose(Ops.Select(full, 1, t), yt, 1e-5, $"prefix {prefix} step {t}");
            }
        }
    }

    [Fact]
    public void FillConvStatePadsOnTheLeft()
    {
        using var scope = TensorScope.Open();
        var x = Tensor.FromArray([1f, 10f, 2f, 20f], [1, 2, 2]);   // (B=1, L=2, C=2)
        var state = Tensor.Full([1, 2, 4], 99);
        Ops.FillConvState(state, x);
        Assert.Equal([0f, 0f, 1f, 2f, 0f, 0f, 10f, 20f], state.ToFloatArray());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ScanWithInitialStateEqualsScanOfConcatenation(bool reference)
    {
        using var scope = TensorScope.Open();
        using var k = Use(reference);
        using var noGrad = Tape.NoGrad();
        var rng = new Rng(13);
        int bsz = 2, l = 19, split = 8, h = 2, g = 1, p = 7, n = 16;
        var x = rng.Normal([bsz, l, h, p]);
        var dt = OpCases.RandDt(rng, bsz, l, h);
        var a = OpCases.RandA(rng, h);
        var b = rng.Normal([bsz, l, g, n]);
        var c = rng.Normal([bsz, l, g, n]);
        var d = rng.Normal([h]);
        var (yAll, finalAll) = Ops.SsdScan(x, dt, a, b, c, d, 5, null);
        Tensor Part(Tensor t, int start, int len) => Ops.Narrow(t, 1, start, len);
        var (y1, s1) = Ops.SsdScan(Part(x, 0, split), Part(dt, 0, split), a, Part(b, 0, split), Part(c, 0, split), d, 5, null);
        int rest = l - split;
        var (y2, s2) = Ops.SsdScan(Part(x, split, rest), Part(dt, split, rest), a, Part(b, split, rest), Part(c, split, rest), d, 3, s1);
        AssertClose(yAll, Ops.Concat([y1, y2], 1), 1e-5, "y");
        AssertClose(finalAll, s2, 1e-5, "final state");
    }

    [Fact]
    public void CpuGradientsEqualReferenceThroughFinalStateOnly()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(14);
        int bsz = 2, l = 9, h = 4, g = 2, p = 8, n = 16;
        Tensor[] Make() => [rng.Normal([bsz, l, h, p]), OpCases.RandDt(rng, bsz, l, h), OpCases.RandA(rng, h),
            rng.Normal([bsz, l, g, n]), rng.Normal([bsz, l, g, n]), rng.Normal([h]), rng.Normal([bsz, h, p, n], 0, 0.5)];
        var inputs = Make();
        var weights = rng.Normal([bsz, h, p, n]);
        Tensor[] Grads(bool reference)
        {
            using var k = Use(reference);
            var leaves = inputs.Select(t => { var c = Ops.Clone(t); c.RequiresGrad = true; return c; }).ToArray();
            var (_, final) = Ops.SsdScan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], 4, leaves[6]);
            Tape.Backward(Ops.Sum(Ops.Mul(final, weights)));
            return leaves.Select(t => t.Grad!).ToArray();
        }
        var cpu = Grads(false);
        var refGrads = Grads(true);
        string[] names = ["dx", "ddt", "da", "db", "dc", "dd", "dinit"];
        for (int i = 0; i < names.Length; i++) AssertClose(refGrads[i], cpu[i], 1e-4, names[i]);
        Assert.Equal(0f, cpu[5].ToFloatArray().Max(Math.Abs));   // d does not reach the final state
    }

    [Fact]
    public void BadShapesNameTheOp()
    {
        using var scope = TensorScope.Open();
        var x = Tensor.Zeros([1, 4, 3, 2]);
        var dt = Tensor.Zeros([1, 4, 3]);
        var a = Tensor.Zeros([3]);
        var b = Tensor.Zeros([1, 4, 2, 5]);   // 3 heads, 2 groups
        var ex = Assert.Throws<ArgumentException>(() => Ops.SsdScan(x, dt, a, b, b, null, 4, null));
        Assert.Contains("SsdScan", ex.Message, StringComparison.Ordinal);
        var ex2 = Assert.Throws<ArgumentException>(() => Ops.CausalConv1d(Tensor.Zeros([1, 4, 3]), Tensor.Zeros([2, 4]), null, true));
        Assert.Contains("CausalConv1d", ex2.Message, StringComparison.Ordinal);
    }
}

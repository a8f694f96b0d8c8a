using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// GatedRmsNormMatMul beyond the harness: on the CPU it gives exactly the bits of the composition it replaces in
/// Mamba2Mixer.Step (GatedRmsNorm then Linear), it is never recorded on the tape, and bad calls throw naming the op
/// and the shapes.
/// </summary>
public class NormLinearTests
{
    private const double Eps = 1e-5;
    private static readonly ReferenceKernels s_reference = new();

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void EqualsGatedRmsNormThenLinear(bool reference, bool bf16)
    {
        using var scope = TensorScope.Open();
        using var kernels = Backend.UseCpuKernels(reference ? s_reference : Backend.Cpu.Kernels);
        var rng = new Rng(11);
        var x = rng.Normal([3, 48]);
        var zxb = rng.Normal([3, 100]);
        var z = Ops.Narrow(zxb, 1, 4, 48);                 // a column block, as in Mamba2Mixer.Step
        var nw = rng.Uniform([48], 0.5, 1.5);
        var w = rng.Normal([7, 48]);
        if (bf16) w = Ops.Cast(w, DType.BFloat16);
        var fused = Ops.GatedRmsNormMatMul(x, z, nw, Eps, 24, w).ToArray<float>();
        var composed = Ops.Linear(Ops.GatedRmsNorm(x, z, nw, Eps, 24), w).ToArray<float>();
        Assert.Equal(composed, fused);
    }

    [Fact]
    public void IsNotRecorded()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(12);
        var x = rng.Normal([2, 8]);
        x.RequiresGrad = true;
        var y = Ops.GatedRmsNormMatMul(x, rng.Normal([2, 8]), rng.Uniform([8], 0.5, 1.5), Eps, 8, rng.Normal([5, 8]));
        Assert.False(y.RequiresGrad);
    }

    [Fact]
    public void BadCallsNameTheOpAndShapes()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(13);
        var x = rng.Normal([2, 8]);
        var z = rng.Normal([2, 8]);
        var nw = rng.Uniform([8], 0.5, 1.5);
        var w = rng.Normal([5, 8]);
        var e1 = Assert.Throws<ArgumentException>(() => Ops.GatedRmsNormMatMul(x, z, nw, Eps, 8, rng.Normal([5, 9])));
        Assert.Contains("GatedRmsNormMatMul", e1.Message);
        Assert.Contains("[5, 9]", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Ops.GatedRmsNormMatMul(x, z, nw, Eps, 3, w));
        Assert.Contains("groupSize 3", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Ops.GatedRmsNormMatMul(x, rng.Normal([2, 7]), nw, Eps, 8, w));
        Assert.Contains("GatedRmsNormMatMul", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Ops.GatedRmsNormMatMul(rng.Normal([2, 2, 8]), z, nw, Eps, 8, w));
        Assert.Contains("(M, K)", e4.Message);
        using var output = Tensor.Empty([2, 4]);
        var e5 = Assert.Throws<ArgumentException>(() => Backend.Cpu.Kernels.GatedRmsNormMatMul(x, z, nw, Eps, 8, w, output));
        Assert.Contains("GatedRmsNormMatMul", e5.Message);
    }
}

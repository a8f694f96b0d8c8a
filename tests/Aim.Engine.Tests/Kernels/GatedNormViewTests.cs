// Tests of the gated RMSNorm's row views (IKernels.Norm.cs, NormChecks.RowStride): which views count as rows a fixed
// stride apart, that the reference and CPU kernels read a z / x view in place exactly as they read a contiguous copy
// (forward and backward, bit for bit: each row's arithmetic is the same), and that Ops.GatedRmsNorm on the Mamba-2 z
// slice launches no Copy in its forward or its backward.
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

public class GatedNormViewTests
{
    private const double Eps = 1e-5;

    /// <summary>CPU kernels that count their Copy calls.</summary>
    private sealed class CopyCountingKernels : CpuKernels
    {
        public int Copies { get; private set; }

        public override void Copy(Tensor source, Tensor output)
        {
            Copies++;
            base.Copy(source, output);
        }
    }

    [Fact]
    public void RowStrideAcceptsColumnBlocksAndSingleRowsAndRefusesOtherViews()
    {
        using var scope = TensorScope.Open();
        var p = Tensor.Zeros([2, 3, 40]);
        Assert.Equal(40, NormChecks.RowStride("t", "z", p));
        Assert.Equal(40, NormChecks.RowStride("t", "z", Ops.Narrow(p, -1, 5, 31)));         // (2, 3, 31), strides (120, 40, 1)
        Assert.Equal(31, NormChecks.RowStride("t", "z", Ops.Narrow(Tensor.Zeros([1, 1, 40]), -1, 3, 31)));   // a single row
        var uncollapsible = Ops.Narrow(p, 1, 1, 2);                                           // (2, 2, 40), strides (120, 40, 1)
        Assert.False(NormChecks.TryRowStride(uncollapsible, out _));
        var e = Assert.Throws<ArgumentException>(() => NormChecks.RowStride("GatedRmsNorm", "z", uncollapsible));
        Assert.Contains("GatedRmsNorm", e.Message);
        Assert.Contains("row view", e.Message);
        Assert.False(NormChecks.TryRowStride(Ops.Transpose(Tensor.Zeros([7, 5]), 0, 1), out _));   // last stride 5
    }

    [Theory]
    [InlineData(false, 1, 1)]
    [InlineData(false, 7, 7)]
    [InlineData(true, 31, 31)]
    [InlineData(true, 257, 257)]
    [InlineData(true, 62, 31)]
    public void KernelsReadRowViewsInPlaceExactlyAsContiguousCopies(bool cpu, int d, int group)
    {
        var rng = new Rng(301 + (ulong)d);
        using var scope = TensorScope.Open();
        IKernels k = cpu ? Backend.Cpu.Kernels : new ReferenceKernels();
        var parent = rng.Normal([2, 3, 2 * d + 9]);                   // (B, L, W): z | x | rest
        var z = Ops.Narrow(parent, -1, 0, d);
        var x = Ops.Narrow(parent, -1, d + 3, d);
        var zc = Ops.Contiguous(z);
        var xc = Ops.Contiguous(x);
        var w = rng.Uniform([d], 0.5, 1.5);
        var dy = rng.Normal([2, 3, d]);
        Tensor Forward(Tensor xa, Tensor za)
        {
            var y = Tensor.Empty([2, 3, d]);
            k.GatedRmsNorm(xa, za, w, Eps, group, y);
            return y;
        }
        (Tensor, Tensor, Tensor) Backward(Tensor xa, Tensor za)
        {
            var dx = Tensor.Empty([2, 3, d]);
            var dz = Tensor.Empty([2, 3, d]);
            var dw = Tensor.Empty([d]);
            k.GatedRmsNormBackward(xa, za, w, dy, Eps, group, dx, dz, dw);
            return (dx, dz, dw);
        }
        Assert.Equal(Forward(xc, zc).ToArray<float>(), Forward(x, z).ToArray<float>());
        var (dx0, dz0, dw0) = Backward(xc, zc);
        var (dx1, dz1, dw1) = Backward(x, z);
        Assert.Equal(dx0.ToArray<float>(), dx1.ToArray<float>());
        Assert.Equal(dz0.ToArray<float>(), dz1.ToArray<float>());
        Assert.Equal(dw0.ToArray<float>(), dw1.ToArray<float>());
    }

    [Fact]
    public void GatedRmsNormOfTheZSliceLaunchesNoCopy()
    {
        var rng = new Rng(310);
        const int e = 31;
        using var proj = rng.Normal([2, 7, 2 * e + 5]);              // in_proj's output: z | x | dt-like tail
        using var y = rng.Normal([2, 7, e]);
        using var w = rng.Uniform([e], 0.5, 1.5);
        using var r = rng.Normal([2, 7, e]);                          // the seed: dLoss/dnormed
        proj.RequiresGrad = true;
        y.RequiresGrad = true;
        var kernels = new CopyCountingKernels();
        using (var scope = TensorScope.Open())
        using (Backend.UseCpuKernels(kernels))
        {
            var z = Ops.Narrow(proj, -1, 0, e);
            var normed = Ops.GatedRmsNorm(y, z, w, Eps, e);
            Assert.Equal(0, kernels.Copies);
            Tape.Backward(normed, r);
        }
        // The backward's one Copy places dz into the columns of proj's gradient (the tape's slice accumulation); the norm's
        // backward reads z in place (it used to copy z in the forward and again in the backward).
        Assert.Equal(1, kernels.Copies);
        Assert.NotNull(proj.Grad);
        proj.ZeroGrad();
        y.ZeroGrad();
    }
}

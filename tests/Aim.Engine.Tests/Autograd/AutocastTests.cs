// Tests of the autocast scope (src/Aim.Engine/Autograd/Autocast.cs) and the bf16 product it gives Ops.Linear and
// Ops.MatMul: the forward equals the float32 product of bf16-rounded operands, the gradients equal the hand-rounded
// backward products and arrive in float32, the scope nests and restores, and other dtypes are left alone.
//
// Tolerance: the autocast product and the hand-rounded reference multiply the same bf16-exact values with float32
// accumulation, differing at most in summation order, so each element must agree within 1e-5 · Σ|aᵢ bᵢ| (the float32
// rounding of a K ≤ 257 sum is below K · 2⁻²⁴ ≈ 1.5e-5 of that bound in the worst case and ~1e-7 typically). The
// pure float32 product differs from them by the bf16 rounding of the operands (up to 2⁻⁹ relative each, partly
// cancelling in the sum; the largest element differs by ~7e-4 of Σ|aᵢ bᵢ| at K = 257), so the tests also require a
// largest difference above 20 times that tolerance, which a product that silently stayed float32 fails.
// Casts are counted with a CpuKernels whose Copy counts float32 → bf16 conversions: a product casts each operand once
// and its incoming gradient once, the backward reusing the forward's bf16 operands.
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Autograd;

public class AutocastTests
{
    private const double RelTol = 1e-5;

    /// <summary>x rounded to bf16 and widened back to float32 (the operand autocast multiplies).</summary>
    private static Tensor Rounded(Tensor x)
    {
        using (Tape.NoGrad())
        using (var narrow = Ops.Cast(x, DType.BFloat16))
            return Ops.Cast(narrow, DType.Float32);
    }

    /// <summary>Largest |actual − expected| relative to the element's Σ|aᵢ bᵢ| (given as <paramref name="scale"/>).</summary>
    private static double MaxScaledError(float[] actual, float[] expected, float[] scale)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / Math.Max(scale[i], 1e-30));
        return worst;
    }

    /// <summary>Σ_k |a[i,k]| |b[j,k]| for contiguous a (M, K) and b (N, K): the scale of each element of a bᵀ.</summary>
    private static float[] AbsScale(Tensor a, Tensor b)
    {
        int m = a.Shape[0], n = b.Shape[0], k = a.Shape[1];
        var pa = a.ToArray<float>();
        var pb = b.ToArray<float>();
        var s = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += Math.Abs(pa[i * k + p]) * Math.Abs(pb[j * k + p]);
                s[i * n + j] = (float)acc;
            }
        return s;
    }

    [Fact]
    public void LinearUnderAutocastIsTheFloat32ProductOfBf16RoundedOperands()
    {
        var rng = new Rng(101);
        using var x = rng.Normal([3, 11, 257]);      // (B, T, in): 33 rows, above the skinny-kernel row limit
        using var w = rng.Normal([65, 257]);         // (out, in)
        using var bias = rng.Normal([65]);
        using var xr = Rounded(x);
        using var wr = Rounded(w);
        Tensor y;
        using (Autocast.Enable(DType.BFloat16)) y = Ops.Linear(x, w, bias);
        using (y)
        using (var expected = Ops.Linear(xr, wr, bias))
        using (var plain = Ops.Linear(x, w, bias))
        using (var x2 = Ops.Reshape(xr, 33, 257))
        {
            Assert.Equal(DType.Float32, y.DType);
            Assert.Equal([3, 11, 65], y.Shape.ToArray());
            var scale = AbsScale(x2, wr);
            double err = MaxScaledError(y.ToArray<float>(), expected.ToArray<float>(), scale);
            Assert.True(err <= RelTol, $"autocast vs hand-rounded: {err:E2} of Σ|x w|");
            double diff = MaxScaledError(y.ToArray<float>(), plain.ToArray<float>(), scale);
            Assert.True(diff > 20 * RelTol, $"autocast vs float32 differ by only {diff:E2} of Σ|x w|: the product did not run in bf16");
        }
    }

    [Fact]
    public void SkinnyAndBatchedMatMulsUnderAutocastMatchTheHandRoundedProduct()
    {
        var rng = new Rng(102);
        using var a = rng.Normal([2, 3, 31]);        // (B, M, K), M below the skinny-kernel limit
        using var b = rng.Normal([31, 7]);           // (K, N), shared by both batches
        Tensor c;
        using (Autocast.Enable(DType.BFloat16)) c = Ops.MatMul(a, b);
        using (c)
        using (var ar = Rounded(a))
        using (var br = Rounded(b))
        using (var expected = Ops.MatMul(ar, br))
        using (var a2 = Ops.Reshape(ar, 6, 31))
        using (var bt = Ops.Transpose(br, 0, 1))
        using (var btc = Ops.Contiguous(bt))
        {
            Assert.Equal(DType.Float32, c.DType);
            double err = MaxScaledError(c.ToArray<float>(), expected.ToArray<float>(), AbsScale(a2, btc));
            Assert.True(err <= RelTol, $"batched autocast vs hand-rounded: {err:E2} of Σ|a b|");
        }
    }

    [Fact]
    public void GradientsUnderAutocastAreFloat32AndEqualTheHandRoundedBackwardProducts()
    {
        var rng = new Rng(103);
        const int m = 33, k = 257, n = 65;
        using var x = rng.Normal([m, k]);
        using var w = rng.Normal([n, k]);
        using var bias = rng.Normal([n]);
        using var r = rng.Normal([m, n]);            // dLoss/dy for loss = Σ y ⊙ r
        x.RequiresGrad = true;
        w.RequiresGrad = true;
        bias.RequiresGrad = true;
        using (var scope = TensorScope.Open())
        {
            using (Autocast.Enable(DType.BFloat16))
            {
                var y = Ops.Linear(x, w, bias);
                Tape.Backward(Ops.Sum(Ops.Mul(y, r)));
            }
        }
        Assert.Equal(0, Tape.Count);
        Assert.Equal(DType.Float32, w.Grad!.DType);
        Assert.Equal(DType.Float32, x.Grad!.DType);

        // PyTorch's autocast backward: the incoming gradient and both operands in bf16, products accumulated in float32.
        using var xr = Rounded(x);
        using var wr = Rounded(w);
        using var gr = Rounded(r);
        using var dw = Ops.MatMul(gr, xr, transA: true);             // (N, K) = gᵀ x
        using var dx = Ops.MatMul(gr, wr);                           // (M, K) = g W
        using var gt = Ops.Transpose(gr, 0, 1);
        using var xt = Ops.Transpose(xr, 0, 1);
        using var wt = Ops.Transpose(wr, 0, 1);
        using var gtc = Ops.Contiguous(gt);
        using var xtc = Ops.Contiguous(xt);
        using var wtc = Ops.Contiguous(wt);
        double errW = MaxScaledError(w.Grad.ToArray<float>(), dw.ToArray<float>(), AbsScale(gtc, xtc));
        double errX = MaxScaledError(x.Grad.ToArray<float>(), dx.ToArray<float>(), AbsScale(gr, wtc));
        Assert.True(errW <= RelTol, $"weight gradient vs hand-rounded: {errW:E2} of Σ|g x|");
        Assert.True(errX <= RelTol, $"input gradient vs hand-rounded: {errX:E2} of Σ|g w|");
        using var dwPlain = Ops.MatMul(r, x, transA: true);
        double diff = MaxScaledError(w.Grad.ToArray<float>(), dwPlain.ToArray<float>(), AbsScale(gtc, xtc));
        Assert.True(diff > 20 * RelTol, $"weight gradient differs from float32 by only {diff:E2}: the backward did not run in bf16");
        // The bias add stays float32: its gradient is the plain column sum of r.
        using var db = Ops.Sum(r, 0);
        var expectedDb = db.ToArray<float>();
        var actualDb = bias.Grad!.ToArray<float>();
        for (int j = 0; j < n; j++) Assert.Equal(expectedDb[j], actualDb[j], 1e-4f);
        x.ZeroGrad();
        w.ZeroGrad();
        bias.ZeroGrad();
    }

    [Fact]
    public void AFloat32ForwardKeepsFloat32BackwardProductsInsideAnAutocastScope()
    {
        var rng = new Rng(104);
        using var a = rng.Normal([9, 31]);
        using var b = rng.Normal([31, 7]);
        float[] Grad(bool scopeDuringBackward)
        {
            a.RequiresGrad = true;
            using var scope = TensorScope.Open();
            var loss = Ops.Sum(Ops.MatMul(a, b));
            using (scopeDuringBackward ? Autocast.Enable(DType.BFloat16) : Autocast.Disable()) Tape.Backward(loss);
            var g = a.Grad!.ToArray<float>();
            a.ZeroGrad();
            return g;
        }
        Assert.Equal(Grad(false), Grad(true));
    }

    [Fact]
    public void ScopesNestAndRestore()
    {
        Assert.False(Autocast.IsEnabled);
        using (Autocast.Enable(DType.BFloat16))
        {
            Assert.Equal(DType.BFloat16, Autocast.Target);
            using (Autocast.Disable())
            {
                Assert.False(Autocast.IsEnabled);
                using (Autocast.Enable(DType.BFloat16)) Assert.True(Autocast.IsEnabled);
                Assert.False(Autocast.IsEnabled);
            }
            Assert.True(Autocast.IsEnabled);
        }
        Assert.Equal(DType.Float32, Autocast.Target);
        Assert.Throws<ArgumentException>(() => Autocast.Enable(DType.Float64));
    }

    [Fact]
    public void OtherDTypesAndOtherThreadsAreLeftAlone()
    {
        var rng = new Rng(105);
        using var a32 = rng.Normal([5, 7]);
        using var b32 = rng.Normal([7, 3]);
        using var a = Ops.Cast(a32, DType.Float64);
        using var b = Ops.Cast(b32, DType.Float64);
        using var plain = Ops.MatMul(a, b);
        using var plain32 = Ops.MatMul(a32, b32);
        using (Autocast.Enable(DType.BFloat16))
        {
            using var c = Ops.MatMul(a, b);
            Assert.Equal(DType.Float64, c.DType);
            Assert.Equal(plain.ToArray<double>(), c.ToArray<double>());
            // The scope is per thread: another thread multiplies in float32.
            float[]? other = null;
            var t = new Thread(() => { using var c2 = Ops.MatMul(a32, b32); other = c2.ToArray<float>(); });
            t.Start();
            t.Join();
            Assert.Equal(plain32.ToArray<float>(), other);
        }
    }

    /// <summary>CPU kernels that count the float32 → bf16 conversions their Copy performs.</summary>
    private sealed class CastCountingKernels : CpuKernels
    {
        public int Casts { get; private set; }

        public override void Copy(Tensor source, Tensor output)
        {
            if (source.DType == DType.Float32 && output.DType == DType.BFloat16) Casts++;
            base.Copy(source, output);
        }
    }

    [Theory]
    [InlineData(true, true, 3)]       // x16 and w16 in the forward, g16 in the backward
    [InlineData(true, false, 3)]
    [InlineData(false, true, 3)]
    public void EachOperandIsCastOncePerProductAndTheBackwardReusesTheForwardsCopies(bool xGrad, bool wGrad, int casts)
    {
        var rng = new Rng(106);
        using var x = rng.Normal([2, 7, 31]);        // (B, T, in)
        using var w = rng.Normal([9, 31]);           // (out, in)
        using var r = rng.Normal([2, 7, 9]);
        x.RequiresGrad = xGrad;
        w.RequiresGrad = wGrad;
        var kernels = new CastCountingKernels();
        using (Backend.UseCpuKernels(kernels))
        using (var scope = TensorScope.Open())
        using (Autocast.Enable(DType.BFloat16))
        {
            var y = Ops.Linear(x, w);
            Assert.Equal(2, kernels.Casts);
            Tape.Backward(Ops.Sum(Ops.Mul(y, r)));
        }
        Assert.Equal(casts, kernels.Casts);
        Assert.Equal(0, Tape.Count);
        Assert.Equal(xGrad, x.Grad is not null);
        Assert.Equal(wGrad, w.Grad is not null);
        x.ZeroGrad();
        w.ZeroGrad();
    }

    [Fact]
    public void SavedBf16OperandsOutliveTheScopeThatMadeThemAndMatchRecasting()
    {
        // The forward's bf16 copies are held by the tape: a backward after the forward's TensorScope closed still reads
        // them, and its gradients equal a backward that re-cast the float32 operands (the previous behaviour) bit for bit.
        var rng = new Rng(107);
        using var x = rng.Normal([33, 257]);
        using var w = rng.Normal([65, 257]);
        using var r = rng.Normal([33, 65]);
        x.RequiresGrad = true;
        w.RequiresGrad = true;
        Tensor loss;
        using (Autocast.Enable(DType.BFloat16))
        {
            using var inner = TensorScope.Open();
            loss = inner.Keep(Ops.Sum(Ops.Mul(Ops.Linear(x, w), r)));
        }
        using (loss) Tape.Backward(loss);
        Assert.Equal(0, Tape.Count);
        // The same bf16 products, each of freshly cast operands: gᵀ x and g W.
        Tensor dw, dx;
        using (Tape.NoGrad())
        using (Autocast.Enable(DType.BFloat16))
        {
            dw = Ops.MatMul(r, x, transA: true);
            dx = Ops.MatMul(r, w);
        }
        using var dwDispose = dw;
        using var dxDispose = dx;
        Assert.Equal(dw.ToArray<float>(), w.Grad!.ToArray<float>());
        Assert.Equal(dx.ToArray<float>(), x.Grad!.ToArray<float>());
        x.ZeroGrad();
        w.ZeroGrad();
    }
}

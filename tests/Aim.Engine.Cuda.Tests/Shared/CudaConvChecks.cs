// CUDA-only checks of the conv family that the harness's small cases do not reach: Conv2d and its two backward
// kernels with the im2col budget lowered so that every image is its own chunk (the multi-chunk path), compared
// with the CPU kernels; the L2Normalize and UpsampleNearest2x backward kernels (the harness runs forwards only),
// compared with the CPU; and NearestCode on exact ties (duplicated codebook rows), which must pick the lowest index.
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

/// <summary>The conv-family CUDA checks, in the result format of <see cref="CudaHarness"/>.</summary>
public static class CudaConvChecks
{
    /// <summary>Every check, each run lazily.</summary>
    public static IEnumerable<Func<CudaCaseResult>> All()
    {
        yield return () => ChunkedConv(stride: 1, pad: 1);
        yield return () => ChunkedConv(stride: 2, pad: 0);
        yield return BackwardKernels;
        yield return NearestCodeTies;
    }

    private static CudaCaseResult Run(string name, Func<CudaCaseResult> body) => CudaHarness.Guard(name, body);

    private static CudaCaseResult ChunkedConv(int stride, int pad) => Run($"Conv2d.chunked(N=3,stride={stride},pad={pad},fwd+bwd)", () =>
    {
        var device = CudaHarness.Device;
        var kernels = CudaBackend.For(device).CudaKernels;
        var rng = new Rng(0xC0117 + (ulong)stride);
        int n = 3, cin = 5, h = 9, w = 7, cout = 4, kk = 3;
        using var x = rng.Normal([n, cin, h, w]);
        using var wt = rng.Normal([cout, cin, kk, kk]);
        using var b = rng.Normal([cout]);
        int ho = (h + 2 * pad - kk) / stride + 1, wo = (w + 2 * pad - kk) / stride + 1;
        using var dy = rng.Normal([n, cout, ho, wo]);
        var cpu = Backend.Kernels(Tensors.Device.Cpu);
        using var y0 = Tensor.Empty([n, cout, ho, wo]);
        using var dx0 = Tensor.Empty([n, cin, h, w]);
        using var dw0 = Tensor.Empty([cout, cin, kk, kk]);
        cpu.Conv2d(x, wt, b, stride, pad, pad, pad, pad, y0);
        cpu.Conv2dBackwardInput(dy, wt, stride, pad, pad, pad, pad, dx0);
        cpu.Conv2dBackwardWeight(x, dy, stride, pad, pad, pad, pad, dw0);
        long budget = kernels.ConvColumnBudget;
        kernels.ConvColumnBudget = 1; // one image per chunk
        try
        {
            using var xd = x.To(device);
            using var wd = wt.To(device);
            using var bd = b.To(device);
            using var dyd = dy.To(device);
            using var y1 = Tensor.Empty([n, cout, ho, wo], DType.Float32, device);
            using var dx1 = Tensor.Empty([n, cin, h, w], DType.Float32, device);
            using var dw1 = Tensor.Empty([cout, cin, kk, kk], DType.Float32, device);
            kernels.Conv2d(xd, wd, bd, stride, pad, pad, pad, pad, y1);
            kernels.Conv2dBackwardInput(dyd, wd, stride, pad, pad, pad, pad, dx1);
            kernels.Conv2dBackwardWeight(xd, dyd, stride, pad, pad, pad, pad, dw1);
            double worst = 0;
            foreach (var (e, a) in new[] { (y0, y1), (dx0, dx1), (dw0, dw1) })
                worst = Math.Max(worst, Harness.Error(CudaHarness.HostDoubles(e), CudaHarness.HostDoubles(a)).Nmse);
            bool ok = worst <= 1e-10 && !double.IsNaN(worst);
            return new($"Conv2d.chunked(N=3,stride={stride},pad={pad},fwd+bwd)", ok ? "pass" : "FAIL", worst, $"worst nmse={worst:E2} vs cpu (limit 1e-10)");
        }
        finally
        {
            kernels.ConvColumnBudget = budget;
        }
    });

    private static CudaCaseResult BackwardKernels() => Run("L2NormalizeBackward+UpsampleNearest2xBackward vs cpu", () =>
    {
        var device = CudaHarness.Device;
        var gpu = CudaBackend.For(device).Kernels;
        var cpu = Backend.Kernels(Tensors.Device.Cpu);
        var rng = new Rng(0xBAC);
        using var x = rng.Normal([37, 9]);
        x.AsSpan<float>()[..9].Clear(); // row 0 is all zero: the eps branch
        using var g = rng.Normal([37, 9]);
        using var dx0 = Tensor.Empty([37, 9]);
        cpu.L2NormalizeBackward(x, g, 1e-12, dx0);
        using var up = rng.Normal([2, 3, 10, 14]);
        using var du0 = Tensor.Empty([2, 3, 5, 7]);
        cpu.UpsampleNearest2xBackward(up, du0);
        using var xd = x.To(device);
        using var gd = g.To(device);
        using var dx1 = Tensor.Empty([37, 9], DType.Float32, device);
        gpu.L2NormalizeBackward(xd, gd, 1e-12, dx1);
        using var upd = up.To(device);
        using var du1 = Tensor.Empty([2, 3, 5, 7], DType.Float32, device);
        gpu.UpsampleNearest2xBackward(upd, du1);
        double worst = Math.Max(Harness.Error(CudaHarness.HostDoubles(dx0), CudaHarness.HostDoubles(dx1)).Nmse, Harness.Error(CudaHarness.HostDoubles(du0), CudaHarness.HostDoubles(du1)).Nmse);
        bool ok = worst <= 1e-12 && !double.IsNaN(worst);
        return new("L2NormalizeBackward+UpsampleNearest2xBackward vs cpu", ok ? "pass" : "FAIL", worst, $"worst nmse={worst:E2} vs cpu (limit 1e-12)");
    });

    private static CudaCaseResult NearestCodeTies() => Run("NearestCode.ties(K=300,dup rows)", () =>
    {
        var device = CudaHarness.Device;
        var rng = new Rng(0x71E5);
        int m = 50, k = 300, d = 8;
        var book = rng.Normal([k, d]).ToArray<float>();
        // Rows 200..299 repeat rows 0..99, so every nearest code has an exact twin further up.
        Array.Copy(book, 0, book, 200 * d, 100 * d);
        var zs = new float[m * d];
        for (int i = 0; i < m; i++)
            for (int c = 0; c < d; c++) zs[i * d + c] = book[(i % 100) * d + c] + 0.01f * (float)rng.NextNormal();
        using var z = Tensor.FromArray(zs, [m, d]);
        using var e = Tensor.FromArray(book, [k, d]);
        using var expected = Tensor.Empty([m], DType.Int64);
        Backend.Kernels(Tensors.Device.Cpu).NearestCode(z, e, expected);
        using var zd = z.To(device);
        using var ed = e.To(device);
        using var actual = Tensor.Empty([m], DType.Int64, device);
        CudaBackend.For(device).Kernels.NearestCode(zd, ed, actual);
        long[] want = expected.ToArray<long>(), got = actual.ToArray<long>();
        int diff = want.Where((v, i) => v != got[i]).Count();
        bool lowest = got.All(v => v < 200);
        return new("NearestCode.ties(K=300,dup rows)", diff == 0 && lowest ? "pass" : "FAIL", diff, $"{diff} of {m} codes differ from the CPU; all below the duplicates: {lowest}");
    });
}

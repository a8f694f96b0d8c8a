// GPU ceilings for `aim bench generate --device cuda`: copy bandwidth (a 1 GiB device-to-device copy through the
// Copy kernel, read + write counted) and matrix rate (an f32 4096³ GEMM through the backend, TF32 as configured, or
// a bf16 8192³ one when the benchmark runs bf16 weights),
// each the best of a few timed runs, synchronised by reading one element back.
using System.Diagnostics;
using Aim.Engine.Backends;
using Aim.Engine.Tensors;

namespace Aim.Bench;

/// <summary>Measures a device's ceilings with the engine's own kernels.</summary>
public static class DeviceRoofline
{
    /// <summary>Bandwidth and matrix peak (in <paramref name="matrixType"/>: f32 or bf16) of <paramref name="device"/>.</summary>
    public static Roofline Measure(Device device, DType matrixType = DType.Float32)
    {
        var k = Backend.Kernels(device);
        double bandwidth = 0, peak = 0;
        using (var scope = TensorScope.Open())
        {
            var src = Tensor.Full([256 << 20], 1.0, DType.Float32, device);
            var dst = Tensor.Empty([256 << 20], DType.Float32, device);
            for (int i = 0; i < 4; i++)
            {
                var sw = Stopwatch.StartNew();
                k.Copy(src, dst);
                Sync(dst);
                if (i > 0) bandwidth = Math.Max(bandwidth, 2.0 * src.Count * 4 / sw.Elapsed.TotalSeconds / 1e9);
            }
            int n = matrixType == DType.BFloat16 ? 8192 : 4096;
            var a = Tensor.Full([1, n, n], 0.5, matrixType, device);
            var c = Tensor.Empty([1, n, n], matrixType, device);
            for (int i = 0; i < 4; i++)
            {
                var sw = Stopwatch.StartNew();
                k.Gemm(a, a, c, false, false, 1, 0);
                Sync(c);
                if (i > 0) peak = Math.Max(peak, 2.0 * n * n * n / sw.Elapsed.TotalSeconds / 1e9);
            }
        }
        return new Roofline(peak, bandwidth, 1);
    }

    private static void Sync(Tensor t)
    {
        Backend.For(t.Device).Synchronize();
    }
}

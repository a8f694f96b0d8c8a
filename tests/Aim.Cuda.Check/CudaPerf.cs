// Device-event timings of a few core kernels on cuda:0 (median of repeated runs after a warm-up), with the
// achieved rate next to the two ceilings that matter: bytes over memory bandwidth, FLOPs over matrix rate.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>Small timing table for the GPU run.</summary>
internal static class CudaPerf
{
    public static void Run(CudaBackend backend)
    {
        var dev = backend.Device;
        var rng = new Rng(1234);
        Console.WriteLine();
        Console.WriteLine($"{"kernel",-44} | {"median ms",9} | rate");
        using (TensorScope.Open())
        {
            const int n = 1 << 26;
            var a = rng.Uniform([n], -1, 1).To(dev);
            var b = rng.Uniform([n], -1, 1).To(dev);
            var y = Tensor.Empty([n], DType.Float32, dev);
            Report("Binary.Add f32 n=2^26 (768 MiB moved)", Time(backend, () => backend.Kernels.Binary(Aim.Engine.Kernels.BinaryOp.Add, a, b, y)), 3.0 * n * 4, 0);
            Report("Unary.Silu f32 n=2^26", Time(backend, () => backend.Kernels.Unary(Aim.Engine.Kernels.UnaryOp.Silu, a, y)), 2.0 * n * 4, 0);
            var m = rng.Uniform([8192, 8192], -1, 1).To(dev);
            var mt = Ops.Transpose(m, 0, 1);
            var mo = Tensor.Empty([8192, 8192], DType.Float32, dev);
            Report("Copy f32 8192^2 transposed", Time(backend, () => backend.Kernels.Copy(mt, mo)), 2.0 * 8192 * 8192 * 4, 0);
        }
        foreach (var (dt, tf32, size) in new[] { (DType.BFloat16, false, 8192), (DType.Float32, false, 4096), (DType.Float32, true, 8192) })
        {
            using var scope = TensorScope.Open();
            var a = Ops.Cast(rng.Normal([1, size, size]), dt).To(dev);
            var b = Ops.Cast(rng.Normal([1, size, size]), dt).To(dev);
            var c = Tensor.Empty([1, size, size], dt, dev);
            bool before = backend.CudaKernels.AllowTf32;
            backend.CudaKernels.AllowTf32 = tf32;
            float ms = Time(backend, () => backend.Kernels.Gemm(a, b, c, false, false, 1, 0));
            backend.CudaKernels.AllowTf32 = before;
            Report($"Gemm {dt.ShortName()}{(tf32 ? " tf32" : "")} {size}^3", ms, 0, 2.0 * size * size * size);
        }
    }

    internal static float Time(CudaBackend backend, Action work, int warmup = 3, int reps = 15)
    {
        for (int i = 0; i < warmup; i++) work();
        backend.Synchronize();
        var times = new float[reps];
        using var start = new CudaEvent(backend);
        using var end = new CudaEvent(backend);
        for (int i = 0; i < reps; i++)
        {
            start.Record();
            work();
            end.Record();
            times[i] = CudaEvent.ElapsedMilliseconds(start, end);
        }
        Array.Sort(times);
        return times[reps / 2];
    }

    internal static void Report(string name, float ms, double bytes, double flops)
    {
        string rate = bytes > 0 ? $"{bytes / (ms * 1e-3) / 1e12:F2} TB/s" : $"{flops / (ms * 1e-3) / 1e12:F1} TFLOP/s";
        Console.WriteLine($"{name,-44} | {ms,9:F3} | {rate}");
    }
}

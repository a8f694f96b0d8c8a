// How long one grid-wide barrier (grid_sync.cuh) takes on this GPU, for a persistent decode-step kernel that would
// replace ~150 small launches per token by a few barriers per layer: grid_barrier_bench runs 2,000 barriers in a
// cooperative launch at one and at the most resident blocks per multiprocessor, for 256/512/1024-thread blocks.
// Compare with the 2-3 µs a small kernel costs inside a CUDA graph (the per-kernel decode table above).
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>Grid-barrier latency table.</summary>
internal static class GridBarrierPerf
{
    public static void Run(CudaBackend backend)
    {
        const int iters = 2000;
        var k = backend.CudaKernels;
        nint f = k.Function("grid_sync.cu", "grid_barrier_bench");
        int sms = backend.Context.MultiprocessorCount;
        Console.WriteLine();
        Console.WriteLine($"{"grid barrier (cooperative launch)",-44} | {"µs/barrier",10}");
        using var barrier = Tensor.Zeros([2], DType.Int32, backend.Device);
        using var sink = Tensor.Empty([4096], DType.Float32, backend.Device);
        foreach (int threads in new[] { 256, 512, 1024 })
        {
            int resident = k.MaxResidentBlocks(f, threads, 0);
            foreach (int blocks in new[] { sms, resident }.Distinct())
            {
                float ms = CudaPerf.Time(backend, () =>
                {
                    var args = new KernelArgs(stackalloc byte[32], stackalloc nint[3]);
                    args.Add(CudaKernels.Ptr(barrier));
                    args.Add(iters);
                    args.Add(CudaKernels.Ptr(sink));
                    k.LaunchCooperative(f, (uint)blocks, (uint)threads, 0, args);
                }, warmup: 1, reps: 5);
                Console.WriteLine($"{$"{blocks} blocks x {threads} threads",-44} | {ms * 1e3 / iters,10:F2}");
            }
        }
    }
}

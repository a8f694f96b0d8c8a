// Machine ceilings for roofline floors: peak float32 FMA throughput and main-memory read bandwidth,
// both measured at start-up (a register-resident FMA loop; a streaming sum over a buffer far larger than
// the caches). floor = max(FLOPs / peak, bytes / bandwidth) (Williams, Waterman, Patterson, "Roofline",
// CACM 52(4), 2009).
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Aim.Bench;

/// <summary>Measured compute and bandwidth ceilings of this machine for a given thread count.</summary>
/// <param name="PeakGflops">Float32 FMA peak, GFLOP/s (2 FLOPs per lane per FMA).</param>
/// <param name="BandwidthGBs">Streaming read bandwidth, GB/s (10⁹ bytes).</param>
/// <param name="Threads">Threads the ceilings were measured with.</param>
public sealed record Roofline(double PeakGflops, double BandwidthGBs, int Threads)
{
    /// <summary>The shortest time the work can take, in milliseconds.</summary>
    public double FloorMs(double flops, double bytes) => Math.Max(flops / (PeakGflops * 1e9), bytes / (BandwidthGBs * 1e9)) * 1e3;

    /// <summary>Measures both ceilings on <paramref name="threads"/> threads (about half a second).</summary>
    public static Roofline Measure(int threads)
    {
        threads = Math.Max(1, threads);
        return new Roofline(MeasurePeak(threads), MeasureBandwidth(threads), threads);
    }

    private static double MeasurePeak(int threads)
    {
        const long Iterations = 4_000_000;
        double best = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Sink(FmaLoop(Iterations)));
            double seconds = sw.Elapsed.TotalSeconds;
            best = Math.Max(best, threads * Iterations * 12.0 * Lanes * 2 / seconds / 1e9);
        }
        return best;
    }

    private static int Lanes => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 1;

    private static float s_sink;

    private static void Sink(float v) => s_sink += v * 0f;

    /// <summary>12 independent FMA chains (enough to cover latency × ports on current x86 cores).</summary>
    private static float FmaLoop(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(0.999999f);
            var d = Vector512.Create(1e-7f);
            Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, d); a1 = Vector512.FusedMultiplyAdd(a1, m, d);
                a2 = Vector512.FusedMultiplyAdd(a2, m, d); a3 = Vector512.FusedMultiplyAdd(a3, m, d);
                a4 = Vector512.FusedMultiplyAdd(a4, m, d); a5 = Vector512.FusedMultiplyAdd(a5, m, d);
                a6 = Vector512.FusedMultiplyAdd(a6, m, d); a7 = Vector512.FusedMultiplyAdd(a7, m, d);
                a8 = Vector512.FusedMultiplyAdd(a8, m, d); a9 = Vector512.FusedMultiplyAdd(a9, m, d);
                a10 = Vector512.FusedMultiplyAdd(a10, m, d); a11 = Vector512.FusedMultiplyAdd(a11, m, d);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(0.999999f);
            var d = Vector256.Create(1e-7f);
            Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, m, d); a1 = Vector256.FusedMultiplyAdd(a1, m, d);
                a2 = Vector256.FusedMultiplyAdd(a2, m, d); a3 = Vector256.FusedMultiplyAdd(a3, m, d);
                a4 = Vector256.FusedMultiplyAdd(a4, m, d); a5 = Vector256.FusedMultiplyAdd(a5, m, d);
                a6 = Vector256.FusedMultiplyAdd(a6, m, d); a7 = Vector256.FusedMultiplyAdd(a7, m, d);
                a8 = Vector256.FusedMultiplyAdd(a8, m, d); a9 = Vector256.FusedMultiplyAdd(a9, m, d);
                a10 = Vector256.FusedMultiplyAdd(a10, m, d); a11 = Vector256.FusedMultiplyAdd(a11, m, d);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        float s0 = 0.999999f, s1 = s0, s2 = s0, s3 = s0;
        for (long i = 0; i < iterations; i++)
        {
            s0 = MathF.FusedMultiplyAdd(s0, 0.999999f, 1e-7f); s1 = MathF.FusedMultiplyAdd(s1, 0.999999f, 1e-7f);
            s2 = MathF.FusedMultiplyAdd(s2, 0.999999f, 1e-7f); s3 = MathF.FusedMultiplyAdd(s3, 0.999999f, 1e-7f);
        }
        return s0 + s1 + s2 + s3;
    }

    private static unsafe double MeasureBandwidth(int threads)
    {
        const long Bytes = 512L << 20;
        long floats = Bytes / sizeof(float);
        float* p = (float*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        try
        {
            NativeMemory.Clear(p, (nuint)Bytes);
            double best = 0;
            for (int rep = 0; rep < 3; rep++)
            {
                var sw = Stopwatch.StartNew();
                long chunk = floats / threads;
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    float* q = p + t * chunk;
                    var acc = Vector256<float>.Zero;
                    for (long i = 0; i + 8 <= chunk; i += 8) acc += Vector256.Load(q + i);
                    Sink(Vector256.Sum(acc));
                });
                best = Math.Max(best, Bytes / sw.Elapsed.TotalSeconds / 1e9);
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(p);
        }
    }
}

// `aim bench gemm`: float32 GEMM throughput of the CPU backend's Gemm kernel at square sizes and at the
// AiM-B decode shapes (x · Wᵀ with W stored (out, in), as nn.Linear), with roofline floors.
// Timing: one warm-up call, then repeats until the time budget is spent (at least 3); the median is reported.
using System.Diagnostics;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Bench;

/// <summary>One measured GEMM shape.</summary>
/// <param name="Op">"square", or the AiM-B layer the shape comes from ("in_proj", "out_proj", "head").</param>
/// <param name="M">Rows of x (batch rows at decode).</param>
/// <param name="N">Output features.</param>
/// <param name="K">Input features.</param>
/// <param name="Threads">Threads the kernel ran with.</param>
/// <param name="Ms">Median time per call, milliseconds.</param>
/// <param name="Gflops">2·M·N·K / median time, GFLOP/s.</param>
/// <param name="FloorMs">Roofline floor max(FLOPs / peak, bytes / bandwidth), milliseconds.</param>
/// <param name="TransB">Whether B is stored (N, K) (the x · Wᵀ form).</param>
/// <param name="CpuMs">Process CPU time per call (mean over the repeats), milliseconds: on a loaded machine,
/// CpuMs / Threads estimates the uncontended time when the threads are kept busy.</param>
public sealed record GemmResult(string Op, int M, int N, int K, int Threads, double Ms, double Gflops, double FloorMs, bool TransB, double CpuMs);

/// <summary>Settings of a GEMM benchmark run.</summary>
/// <param name="Threads">Threads for the CPU kernels.</param>
/// <param name="Seconds">Time budget per shape (after warm-up).</param>
public sealed record GemmBenchOptions(int Threads, double Seconds);

/// <summary>The GEMM benchmark.</summary>
public static class GemmBench
{
    /// <summary>AiM-B decode layers: (name, N = out features, K = in features).</summary>
    public static readonly IReadOnlyList<(string Op, int N, int K)> DecodeLayers =
    [
        ("in_proj", 3352, 768),
        ("out_proj", 768, 1536),
        ("head", 16384, 768),
    ];

    /// <summary>Square sizes measured.</summary>
    public static readonly IReadOnlyList<int> SquareSizes = [256, 512, 1024, 2048];

    /// <summary>Batch rows measured at the decode shapes.</summary>
    public static readonly IReadOnlyList<int> DecodeRows = [1, 2, 16];

    /// <summary>The micro-kernel tile the CPU GEMM uses on this machine.</summary>
    public static string MicroTile => Aim.Engine.Backends.Cpu.Gemm.Sgemm.MicroTile;

    /// <summary>Runs every shape; yields results as they are measured.</summary>
    public static IEnumerable<GemmResult> Run(GemmBenchOptions options, Roofline roofline)
    {
        if (options.Threads < 1) throw new ArgumentException($"bench gemm: --threads must be at least 1, got {options.Threads}");
        if (!(options.Seconds > 0)) throw new ArgumentException($"bench gemm: --seconds must be positive, got {options.Seconds}");
        int saved = CpuParallel.MaxThreads;
        CpuParallel.MaxThreads = options.Threads;
        try
        {
            foreach (int s in SquareSizes) yield return Measure("square", s, s, s, transB: false, options, roofline);
            foreach (var (op, n, k) in DecodeLayers)
                foreach (int m in DecodeRows) yield return Measure(op, m, n, k, transB: true, options, roofline);
        }
        finally
        {
            CpuParallel.MaxThreads = saved;
        }
    }

    /// <summary>Times c = a · op(b) for one shape.</summary>
    public static GemmResult Measure(string op, int m, int n, int k, bool transB, GemmBenchOptions options, Roofline roofline)
    {
        var rng = new Rng(0x6E44);
        using var a = rng.Normal([1, m, k]);
        using var b = rng.Normal(transB ? [1, n, k] : [1, k, n], 0, 1.0 / Math.Sqrt(k));
        using var c = Tensor.Empty([1, m, n]);
        var kernels = Backend.Cpu.Kernels;
        kernels.Gemm(a, b, c, false, transB, 1.0, 0.0);
        var times = new List<double>();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var budget = Stopwatch.StartNew();
        while (times.Count < 3 || budget.Elapsed.TotalSeconds < options.Seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            kernels.Gemm(a, b, c, false, transB, 1.0, 0.0);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (times.Count >= 10_000) break;
        }
        process.Refresh();
        double cpuMs = (process.TotalProcessorTime - cpu0).TotalMilliseconds / times.Count;
        times.Sort();
        double ms = times[times.Count / 2];
        double flops = 2.0 * m * n * k;
        double bytes = 4.0 * ((double)m * k + (double)k * n + (double)m * n);
        return new GemmResult(op, m, n, k, options.Threads, ms, flops / (ms * 1e6), roofline.FloorMs(flops, bytes), transB, cpuMs);
    }
}

namespace Aim.Engine.Backends.Cpu;

/// <summary>
/// Deterministic parallel loops: work is cut into chunks whose boundaries depend only on the problem
/// size (never on the thread count), so per-chunk reductions give the same bits on any machine.
/// </summary>
public static class CpuParallel
{
    /// <summary>Threads the CPU kernels may use (AIM_THREADS overrides the processor count).</summary>
    public static int MaxThreads { get; set; } = ReadThreads();

    private static int ReadThreads()
    {
        string? env = Environment.GetEnvironmentVariable("AIM_THREADS");
        return int.TryParse(env, out int n) && n > 0 ? n : Environment.ProcessorCount;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over [0, count) in chunks of at least <paramref name="grain"/> items.
    /// Runs inline when one chunk suffices.
    /// </summary>
    public static void For(long count, long grain, Action<long, long> body)
    {
        if (count <= 0) return;
        grain = Math.Max(grain, 1);
        long chunks = (count + grain - 1) / grain;
        if (chunks <= 1 || MaxThreads <= 1)
        {
            body(0, count);
            return;
        }
        long chunkSize = (count + chunks - 1) / chunks;
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxThreads };
        Parallel.For(0L, chunks, options, c =>
        {
            long start = c * chunkSize;
            long end = Math.Min(count, start + chunkSize);
            if (start < end) body(start, end);
        });
    }
}

// `aim bench generate`: decoding speed of AiM at the official shapes with random weights (spec §5 init), the
// full 256-step loop with the README's sampling (cfg 5, top-k 600, top-p 0.98), per batch size. The floor is the
// bytes of weights one decode step must read (every layer's in_proj, conv, out_proj and norms, the final layer
// and the tied head; the adaLN rows are computed once per image, not per step) over the measured read bandwidth,
// or the step's FLOPs over the measured peak when that is larger.
using System.Diagnostics;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Generation;
using Aim.Models.Stage2;

namespace Aim.Bench;

/// <summary>One measured configuration.</summary>
public sealed record GenerateResult(string Model, string Device, int Batch, int Rows, int Threads, double MsPerStep, double SecondsPerImageBatch,
    double ImagesPerSecond, double FloorMsPerStep, double WeightMegabytesPerStep, double FirstStepMs);

/// <summary>Times the recurrent decode loop.</summary>
public static class GenerateBench
{
    /// <summary>Bytes of weights read by one decode step (fp32): everything except the per-image adaLN projections.</summary>
    public static long StepWeightBytes(AimModel model)
    {
        long total = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            bool perImage = name.Contains("adaLN_modulation", StringComparison.Ordinal) || name.Contains("adaln_group", StringComparison.Ordinal)
                || name.Contains("cls_embed", StringComparison.Ordinal) || name.Contains("scale_shift_table", StringComparison.Ordinal);
            bool gathered = name.Contains("position_embeddings", StringComparison.Ordinal);
            if (!perImage && !gathered) total += p.Count * p.DType.SizeOf();
        }
        return total;
    }

    /// <summary>FLOPs of one decode step for <paramref name="rows"/> rows (2 per multiply-add of every step matrix).</summary>
    public static double StepFlops(AimModel model, int rows)
    {
        long elements = 0;
        foreach (var (name, p) in model.NamedParameters())
            if (name.EndsWith("proj.weight", StringComparison.Ordinal) || name.EndsWith("word_embeddings.weight", StringComparison.Ordinal)) elements += p.Count;
        return 2.0 * rows * elements;
    }

    /// <summary>Runs the full decode for each batch size (images; CFG doubles the rows).</summary>
    public static IEnumerable<GenerateResult> Run(string modelName, AimConfig config, IReadOnlyList<int> batches, Device device, Roofline roofline, Action<string>? log = null, bool profile = false, bool bf16Weights = false)
    {
        log?.Invoke($"building {modelName} with random weights ({config.NLayer} layers, d={config.DModel})...");
        using var model = new AimModel(config);
        model.InitializeRandom(new Rng(0));
        if (device.Kind != DeviceKind.Cpu) model.To(device);
        if (bf16Weights) model.UseBFloat16Weights();
        long bytes = StepWeightBytes(model);
        var options = new SamplingOptions { CfgScale = 5, TopK = 600, TopP = 0.98 };
        foreach (int batch in batches)
        {
            var labels = new long[batch];
            for (int i = 0; i < batch; i++) labels[i] = (i * 97) % config.NumClasses;
            var stamps = new List<double>();
            IReadOnlyDictionary<string, (double Ms, long Calls)>? totals = null;
            var sw = Stopwatch.StartNew();
            using (profile ? KernelProfiler.Attach(out totals) : null)
                AimDecoder.Generate(model, labels, options, new Rng(1), device, step => stamps.Add(sw.Elapsed.TotalMilliseconds));
            double total = sw.Elapsed.TotalSeconds;
            if (totals is not null && log is not null)
            {
                double kernelMs = totals.Values.Sum(t => t.Ms);
                log($"batch {batch}: kernels {kernelMs:F0} ms of {total * 1e3:F0} ms total; by kernel (ms per step, calls per step):");
                foreach (var (name, t) in totals.OrderByDescending(kv => kv.Value.Ms))
                    log($"  {name,-28} {t.Ms / stamps.Count,8:F3} ms  {t.Calls / (double)stamps.Count,6:F0} calls");
            }
            // Steady-state per-step time: the median step after the first (which includes one-time JIT and allocation).
            var steps = new List<double>();
            for (int i = 1; i < stamps.Count; i++) steps.Add(stamps[i] - stamps[i - 1]);
            steps.Sort();
            double median = steps.Count > 0 ? steps[steps.Count / 2] : stamps[0];
            double floor = roofline.FloorMs(StepFlops(model, 2 * batch), bytes);
            yield return new GenerateResult(modelName + (bf16Weights ? " (bf16 w)" : ""), device.ToString(), batch, 2 * batch, roofline.Threads, median, total, batch / total,
                floor, bytes / 1e6, stamps[0]);
        }
    }
}

// `aim bench generate`: decoding speed of AiM at the official shapes with random weights (spec §5 init), the
// full 256-step loop with the README's sampling (cfg 5, top-k 600, top-p 0.98), per batch size. The floor is the
// bytes of weights one decode step must read (every layer's in_proj, conv, out_proj and norms, the final layer
// and the tied head; the adaLN rows are computed once per image, not per step) over the measured read bandwidth,
// or the step's FLOPs over the measured peak when that is larger. Times are whole calls (256 steps, recording of
// the step graph included) divided by the step count, after an untimed first call; the replay time per step (the
// steady state a cached graph would give) is reported beside it; peak device memory is what the
// allocator held from the driver during the timed call (model weights included). With a kernel profile the decode
// runs eagerly (no step graph: a recording cannot be synchronised per kernel) and every kernel is synchronised, so
// the profiled call's time is not the decode speed.
using System.Diagnostics;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Generation;
using Aim.Models.Stage2;

namespace Aim.Bench;

/// <summary>One measured configuration.</summary>
public sealed record GenerateResult(string Model, string Device, int Batch, int Rows, int Threads, double MsPerStep, double SecondsPerImageBatch,
    double ImagesPerSecond, double FloorMsPerStep, double WeightMegabytesPerStep, double FirstCallMs, double PeakDeviceMegabytes,
    double ReplayMsPerStep, double RecordMs);

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

    /// <summary>
    /// Bytes one decode step must move for <paramref name="rows"/> rows: the step weights plus reading and writing
    /// every layer's f32 SSM state (H·P·N per row) and conv state (conv_dim·d_conv per row). At large batch the
    /// state traffic, not the weights, sets the floor (AiM-B: 0.79 MB of SSM state per row and layer).
    /// </summary>
    public static double StepBytes(AimModel model, int rows)
    {
        var c = model.Config;
        double statePerRow = (double)c.NHeads * c.Ssm.HeadDim * c.Ssm.DState + (double)c.ConvDim * c.Ssm.DConv;
        return StepWeightBytes(model) + 2.0 * 4 * rows * c.NLayer * statePerRow;
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
            var allocator = device.Kind == DeviceKind.Cuda ? CudaBackend.For(device).Allocator : null;
            // A first call compiles kernels and fills the allocator's cache; the timed call then pays only its own
            // work, including recording the step graph (once per call).
            var warm = Stopwatch.StartNew();
            AimDecoder.Generate(model, labels, options, new Rng(1), device, recordSteps: !profile);
            double firstCallMs = warm.Elapsed.TotalMilliseconds;
            allocator?.ResetPeak();
            KernelProfile? kernels = null;
            var timings = new AimDecoder.DecodeTimings();
            var sw = Stopwatch.StartNew();
            using (profile ? KernelProfiler.Attach(device, out kernels) : null)
                AimDecoder.Generate(model, labels, options, new Rng(1), device, recordSteps: !profile, timings: timings);
            double total = sw.Elapsed.TotalSeconds;
            int stepCount = config.NumTokens;
            if (kernels is not null && log is not null)
            {
                log($"batch {batch}: kernels {kernels.Total.Ms:F0} ms of {total * 1e3:F0} ms total (eager steps, each kernel synchronised); by kernel (ms per step, calls per step, GB/s):");
                foreach (var t in kernels.ByTotalTime())
                    log($"  {t.Name,-28} {t.Ms / stepCount,8:F3} ms  {t.Calls / (double)stepCount,6:F0} calls  {t.GBs,8:F1} GB/s");
            }
            double perStep = total * 1e3 / stepCount;
            double floor = roofline.FloorMs(StepFlops(model, 2 * batch), StepBytes(model, 2 * batch));
            double peakMb = allocator is null ? 0 : allocator.PeakDriverBytes / 1e6;
            yield return new GenerateResult(modelName + (bf16Weights ? " (bf16 w)" : ""), device.ToString(), batch, 2 * batch, roofline.Threads, perStep, total, batch / total,
                floor, bytes / 1e6, firstCallMs, peakMb, timings.ReplayMs / Math.Max(1, timings.Replays), timings.RecordMs);
        }
    }
}

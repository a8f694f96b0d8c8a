// `aim bench train`: stage-2 training throughput at the official shapes with random weights and random codes:
// forward, cross-entropy over all tokens, backward, AdamW with clipping at 1.0 — the step `aim train` runs, without
// data loading or checkpoints. Reports tokens/s (median step after warm-up) and the FLOP floor (6 · parameters per
// token for forward + backward, over the measured f32 matrix rate). products = BFloat16 runs forward, loss and backward
// under Autocast (bf16 matrix products, float32 weights and everything else), as `aim train --precision bf16` does.
// With a profile, one more step runs after the timed ones under KernelProfiler (every kernel synchronised, so that
// step is slower than the timed ones; its per-kernel times are for attribution).
using System.Diagnostics;
using Aim.Engine.Autograd;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Operations;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Bench;

/// <summary>
/// One measured configuration; <paramref name="Profile"/> and <paramref name="ProfiledStepMs"/> come from the extra profiled
/// step, when asked for. <paramref name="PeakDeviceMegabytes"/>: what the CUDA allocator held from the driver during the timed
/// steps (0 on the CPU); <paramref name="StateMegabytes"/>: the floor for it before activations, 16 bytes per parameter
/// (float32 weight, gradient and the two AdamW moments).
/// </summary>
public sealed record TrainResult(string Model, string Device, int Batch, int Tokens, double MsPerStep, double TokensPerSecond, double FloorMsPerStep, double Loss,
    KernelProfile? Profile = null, double ProfiledStepMs = 0, double PeakDeviceMegabytes = 0, double StateMegabytes = 0);

/// <summary>Times training steps.</summary>
public static class TrainBench
{
    /// <summary>
    /// Runs <paramref name="steps"/> timed steps (after one warm-up) at batch <paramref name="batch"/>, with the matrix
    /// products in <paramref name="products"/> (Float32, or BFloat16 for mixed precision), then, with
    /// <paramref name="profile"/>, one more step under <see cref="KernelProfiler"/>.
    /// </summary>
    public static TrainResult Run(string modelName, AimConfig config, int batch, int steps, Device device, Roofline roofline, Action<string>? log = null,
        DType products = DType.Float32, bool profile = false)
    {
        log?.Invoke($"building {modelName} with random weights for training (batch {batch}, {config.NumTokens} tokens)...");
        using var model = new AimModel(config);
        model.InitializeRandom(new Rng(0), zeroAdaLn: false);
        if (device.Kind != DeviceKind.Cpu) model.To(device);
        model.SetRequiresGrad(true);
        using var optimizer = new AdamW(model.NamedParameters());
        var rng = new Rng(1);
        var times = new List<double>();
        double loss = double.NaN;
        string lastSplit = "";

        // One training step on fresh random codes and labels: its wall time in milliseconds.
        double Step()
        {
            using var scope = TensorScope.Open();
            var codes = new long[batch * config.NumTokens];
            for (int i = 0; i < codes.Length; i++) codes[i] = rng.NextInt(config.VocabSize);
            var labels = new long[batch];
            for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(config.NumClasses + 1);
            using var autocast = Autocast.Enable(products);   // the step's matrix products (AdamW has none)
            var sw = Stopwatch.StartNew();
            var codesT = Tensor.FromArray(codes, [batch, config.NumTokens], device);
            var (logits, _) = model.Forward(codesT, Tensor.FromArray(labels, [batch], device));
            var ce = Ops.CrossEntropy(Ops.Reshape(logits, -1, config.VocabSize), Ops.Reshape(codesT, -1));
            double forwardMs = sw.Elapsed.TotalMilliseconds;
            Tape.Backward(ce);
            double backwardMs = sw.Elapsed.TotalMilliseconds;
            using (Tape.NoGrad()) optimizer.IssueStep(1e-4, 1.0, 1.0).Dispose();  // clip scale on the device: no wait
            double optimizerMs = sw.Elapsed.TotalMilliseconds;
            model.ZeroGrad();
            loss = ce.Item();                                            // waits for the optimizer's kernels
            double total = sw.Elapsed.TotalMilliseconds;
            // On a GPU the host only queues work until a read waits for it: forward and backward times are what the
            // host spends issuing them (a host-bound step shows them close to the total), the final wait is GPU time.
            lastSplit = $"issue forward {forwardMs:F1}, issue backward {backwardMs - forwardMs:F1}, issue optimizer {optimizerMs - backwardMs:F1}, final wait {total - optimizerMs:F1} ms";
            return total;
        }

        var allocator = device.Kind == DeviceKind.Cuda ? CudaBackend.For(device).Allocator : null;
        for (int s = 0; s <= steps; s++)
        {
            if (s == 1) allocator?.ResetPeak();                          // the timed steps: weights, state, activations
            double stepMs = Step();
            if (s > 0) times.Add(stepMs);
            log?.Invoke($"step {s}: {stepMs:F1} ms ({lastSplit}), loss {loss:F3}{(s == 0 ? " (warm-up)" : "")}");
        }
        KernelProfile? kernels = null;
        double profiledMs = 0;
        if (profile)
        {
            using (KernelProfiler.Attach(device, out kernels)) profiledMs = Step();
            log?.Invoke($"profiled step: {profiledMs:F1} ms with every kernel synchronised, kernels {kernels.Total.Ms:F1} ms, loss {loss:F3}");
        }
        times.Sort();
        double ms = times[times.Count / 2];
        long tokens = (long)batch * config.NumTokens;
        double flops = 6.0 * model.ParameterCount() * tokens;
        double peakMb = allocator is null ? 0 : allocator.PeakDriverBytes / 1e6;
        return new TrainResult(modelName, device.ToString(), batch, config.NumTokens, ms, tokens / (ms / 1e3), roofline.FloorMs(flops, 0), loss, kernels, profiledMs,
            peakMb, 16.0 * model.ParameterCount() / 1e6);
    }
}

// `aim bench train`: stage-2 training throughput at the official shapes with random weights and random codes:
// forward, cross-entropy over all tokens, backward, AdamW with clipping at 1.0 — the step `aim train` runs, without
// data loading or checkpoints. Reports tokens/s (median step after warm-up) and the FLOP floor (6 · parameters per
// token for forward + backward, over the measured f32 matrix rate). products = BFloat16 runs forward, loss and backward
// under Autocast (bf16 matrix products, float32 weights and everything else), as `aim train --precision bf16` does.
using System.Diagnostics;
using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Bench;

/// <summary>One measured configuration.</summary>
public sealed record TrainResult(string Model, string Device, int Batch, int Tokens, double MsPerStep, double TokensPerSecond, double FloorMsPerStep, double Loss);

/// <summary>Times training steps.</summary>
public static class TrainBench
{
    /// <summary>
    /// Runs <paramref name="steps"/> timed steps (after one warm-up) at batch <paramref name="batch"/>, with the matrix
    /// products in <paramref name="products"/> (Float32, or BFloat16 for mixed precision).
    /// </summary>
    public static TrainResult Run(string modelName, AimConfig config, int batch, int steps, Device device, Roofline roofline, Action<string>? log = null,
        DType products = DType.Float32)
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
        for (int s = 0; s <= steps; s++)
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
            loss = ce.Item();
            Tape.Backward(ce);
            using (Tape.NoGrad()) optimizer.Step(1e-4, 1.0, 1.0);
            model.ZeroGrad();
            if (s > 0) times.Add(sw.Elapsed.TotalMilliseconds);
            log?.Invoke($"step {s}: {sw.Elapsed.TotalMilliseconds:F1} ms, loss {loss:F3}{(s == 0 ? " (warm-up)" : "")}");
        }
        times.Sort();
        double ms = times[times.Count / 2];
        long tokens = (long)batch * config.NumTokens;
        double flops = 6.0 * model.ParameterCount() * tokens;
        return new TrainResult(modelName, device.ToString(), batch, config.NumTokens, ms, tokens / (ms / 1e3), roofline.FloorMs(flops, 0), loss);
    }
}

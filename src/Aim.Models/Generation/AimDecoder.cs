using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Models.Generation;

/// <summary>
/// The recurrent decoding loop (spec §6.2): the batch is [conditional ; unconditional] (null class = num_classes);
/// step 0 feeds the class embedding, step k feeds word[token] + pos[k] (pos[k − 1] when the model's config says
/// <see cref="DecodePositions.Training"/>) with the conditional rows' tokens given to both halves; logits are mixed uncond + s·(cond − uncond). Memory grows with batch, never with sequence length:
/// each step's temporaries are freed, the caches are fixed-size.
/// </summary>
public static class AimDecoder
{
    /// <summary>Called after each step with (step, CFG logits (B·V) on host, final hidden (2B, d)); returns the B tokens to feed.</summary>
    public delegate long[] StepHandler(int step, float[] cfgLogits, Tensor finalHidden);

    /// <summary>
    /// Runs all T steps; <paramref name="handler"/> chooses each step's tokens. Returns the tokens (B, T).
    /// <paramref name="positions"/> overrides the model config's position convention.
    /// </summary>
    public static long[][] Run(AimModel model, long[] labels, double cfgScale, Device device, StepHandler handler, DecodePositions? positions = null)
    {
        var config = model.Config;
        int positionShift = PositionShift(config, positions);
        int b = labels.Length, v = config.VocabSize, t = config.NumTokens;
        CheckLabels(config, labels);
        var tokens = new long[b][];
        for (int i = 0; i < b; i++) tokens[i] = new long[t];
        using var noGrad = Tape.NoGrad();
        using var outer = TensorScope.Open();
        using var session = new DecodeSession(model, Tensor.FromArray(ConditionIds(config, labels), [2 * b], device));
        long[] previous = [];
        for (int step = 0; step < t; step++)
        {
            using var scope = TensorScope.Open();
            Tensor input;
            if (step == 0) input = session.Cond;
            else
            {
                var ids = new long[2 * b];
                for (int i = 0; i < b; i++) ids[i] = ids[b + i] = previous[i];
                input = model.TokenInput(Tensor.FromArray(ids, [2 * b], device), step - positionShift);
            }
            var (logits, final) = session.Step(input);                                 // (2B, V), (2B, d)
            var condRows = Ops.Narrow(logits, 0, 0, b);
            var uncondRows = Ops.Narrow(logits, 0, b, b);
            var guided = Ops.Add(uncondRows, Ops.Scale(Ops.Sub(condRows, uncondRows), cfgScale)); // (B, V)
            var host = guided.ToArray<float>();
            previous = handler(step, host, final);
            if (previous.Length != b) throw new InvalidOperationException($"decode: handler returned {previous.Length} tokens for {b} rows");
            for (int i = 0; i < b; i++)
            {
                if (previous[i] < 0 || previous[i] >= v) throw new InvalidOperationException($"decode: token {previous[i]} outside the vocabulary of {v}");
                tokens[i][step] = previous[i];
            }
        }
        return tokens;
    }

    /// <summary>
    /// Samples B images' tokens with <paramref name="options"/>; <paramref name="progress"/> gets the step count done.
    /// Everything stays on the device: each step gathers the previous tokens and positions from device buffers,
    /// runs every layer, and <see cref="Ops.SampleTokens"/> mixes CFG logits, samples with the Philox stream of
    /// <paramref name="rng"/> and writes the next tokens back, so steps 2..T are recorded once
    /// (<see cref="Backend.Record"/>: a CUDA graph on GPUs) and replayed without a host round trip. The host
    /// waits only every <see cref="ProgressInterval"/> steps when progress is reported, and once at the end.
    /// <paramref name="recordSteps"/> false runs every step eagerly (for kernel profiling); <paramref name="timings"/>,
    /// when given, receives where the time went (benchmarks). Tokens equal the
    /// host sampler's for the same logits: uniform i of the run is <paramref name="rng"/>'s i-th NextDouble
    /// (from its current block), and <paramref name="rng"/> is advanced past the draws used.
    /// </summary>
    public static long[][] Generate(AimModel model, long[] labels, SamplingOptions options, Rng rng, Device device, Action<int>? progress = null,
        bool recordSteps = true, DecodeTimings? timings = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        options.Validate();
        var config = model.Config;
        int b = labels.Length, t = config.NumTokens;
        CheckLabels(config, labels);
        using var noGrad = Tape.NoGrad();
        using var outer = TensorScope.Open();
        using var session = new DecodeSession(model, Tensor.FromArray(ConditionIds(config, labels), [2 * b], device));
        var steps = Tensor.Zeros([2 * b], DType.Int64, device);                    // (2B): index of the token sampled next
        var tokens = Tensor.Zeros([2 * b], DType.Int64, device);                   // (2B): the last sampled tokens, both halves
        var positions = Tensor.Zeros([2 * b], DType.Int64, device);                // (2B): position row the last tokens are fed at
        var history = Tensor.Zeros([b, t], DType.Int64, device);                   // (B, T): every sampled token
        int shift = PositionShift(config, options.Positions);
        var settings = new SampleSettings(options.CfgScale, options.TopK, options.TopP, options.Temperature, rng.Seed, rng.Position, shift);
        var backend = Backend.For(device);
        void Sample(Tensor input)
        {
            var (logits, _) = session.Step(input);                                    // (2B, V)
            Ops.SampleTokens(logits, steps, tokens, positions, history, settings);
        }
        void TokenStep() => Sample(Ops.Add(model.WordEmbeddings.Forward(tokens), model.PositionEmbeddings.Forward(positions)));

        using (TensorScope.Open()) Sample(session.Cond);                                      // step 0 feeds the class embedding
        if (t > 1)
        {
            using (TensorScope.Open()) TokenStep();                                   // eager once: compiles kernels, warms caches
            if (timings is not null) timings.SetupMs = Lap();
            using var recorded = recordSteps ? Backend.Record(device, TokenStep) : null;
            if (timings is not null) timings.RecordMs = Lap();
            for (int step = 2; step < t; step++)
            {
                if (recorded is not null) recorded.Replay();
                else using (TensorScope.Open()) TokenStep();
                Report(step + 1);
            }
            backend.Synchronize();
            if (timings is not null)
            {
                timings.ReplayMs = Lap();
                timings.Replays = t - 2;
            }
        }
        progress?.Invoke(t);
        var flat = history.ToArray<long>();
        rng.Skip(((ulong)t * (ulong)b + 1) / 2);                                       // two 32-bit words per uniform, four per block
        var result = new long[b][];
        for (int i = 0; i < b; i++) result[i] = flat.AsSpan(i * t, t).ToArray();
        return result;

        // Milliseconds since the previous lap, after the device has finished what was queued.
        double Lap()
        {
            backend.Synchronize();
            double ms = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            return ms;
        }

        void Report(int done)
        {
            if (progress is null || done == t || done % ProgressInterval != 0) return;
            backend.Synchronize();
            progress(done);
        }
    }

    /// <summary>Where a <see cref="Generate"/> call's time went; the device is synchronised at each boundary.</summary>
    public sealed class DecodeTimings
    {
        /// <summary>Session constants, states, steps 0 and 1 (eager).</summary>
        public double SetupMs { get; set; }
        /// <summary>Recording the step (a CUDA graph capture and instantiation on GPUs).</summary>
        public double RecordMs { get; set; }
        /// <summary>The remaining steps, replayed.</summary>
        public double ReplayMs { get; set; }
        /// <summary>Number of replayed steps.</summary>
        public int Replays { get; set; }
    }

    /// <summary>Steps between progress reports (each waits for the device).</summary>
    public const int ProgressInterval = 16;

    /// <summary>How many rows below the step offset a decoded token's position row is: 1 with the training convention, else 0.</summary>
    private static int PositionShift(AimConfig config, DecodePositions? overridden)
        => (overridden ?? config.DecodePositions) == DecodePositions.Training ? 1 : 0;

    private static void CheckLabels(AimConfig config, long[] labels)
    {
        if (labels.Length == 0) throw new ArgumentException("decode: no labels");
        foreach (long l in labels)
            if (l < 0 || l > config.NumClasses)
                throw new ArgumentOutOfRangeException(nameof(labels), $"class {l} outside 0..{config.NumClasses - 1} (or {config.NumClasses} for the null class)");
    }

    /// <summary>[labels ; null class × B]: the conditional rows, then the unconditional ones.</summary>
    private static long[] ConditionIds(AimConfig config, long[] labels)
    {
        int b = labels.Length;
        var ids = new long[2 * b];
        for (int i = 0; i < b; i++)
        {
            ids[i] = labels[i];
            ids[b + i] = config.NumClasses;
        }
        return ids;
    }
}

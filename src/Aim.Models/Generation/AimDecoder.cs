using Aim.Engine.Autograd;
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
        int positionShift = (positions ?? config.DecodePositions) == DecodePositions.Training ? 1 : 0;
        int b = labels.Length, v = config.VocabSize, t = config.NumTokens;
        if (b == 0) throw new ArgumentException("decode: no labels");
        foreach (long l in labels)
            if (l < 0 || l > config.NumClasses)
                throw new ArgumentOutOfRangeException(nameof(labels), $"class {l} outside 0..{config.NumClasses - 1} (or {config.NumClasses} for the null class)");
        var tokens = new long[b][];
        for (int i = 0; i < b; i++) tokens[i] = new long[t];
        using var noGrad = Tape.NoGrad();
        using var outer = TensorScope.Open();
        var ids0 = new long[2 * b];
        for (int i = 0; i < b; i++)
        {
            ids0[i] = labels[i];
            ids0[b + i] = config.NumClasses;
        }
        var cond = model.ClassEmbeddings.Forward(Tensor.FromArray(ids0, [2 * b], device)); // (2B, d)
        var mods = model.LayerModulations(cond);                                           // per layer, (2B, d) each
        var states = model.NewStates(2 * b, device);
        try
        {
            long[] previous = [];
            for (int step = 0; step < t; step++)
            {
                using var scope = TensorScope.Open();
                Tensor input;
                if (step == 0) input = cond;
                else
                {
                    var ids = new long[2 * b];
                    for (int i = 0; i < b; i++) ids[i] = ids[b + i] = previous[i];
                    input = model.TokenInput(Tensor.FromArray(ids, [2 * b], device), step - positionShift);
                }
                var (logits, final) = model.Step(input, cond, mods, states);               // (2B, V), (2B, d)
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
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
        return tokens;
    }

    /// <summary>Samples B images' tokens with <paramref name="options"/>; <paramref name="progress"/> gets the step count done.</summary>
    public static long[][] Generate(AimModel model, long[] labels, SamplingOptions options, Rng rng, Device device, Action<int>? progress = null)
    {
        options.Validate();
        int v = model.Config.VocabSize;
        return Run(model, labels, options.CfgScale, device, (step, logits, _) =>
        {
            var sampled = Sampler.Sample(logits, labels.Length, v, options, rng);
            progress?.Invoke(step + 1);
            return sampled;
        }, options.Positions);
    }
}

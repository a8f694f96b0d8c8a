// Holds: AiM stage-2 training on pre-tokenized shards (spec §2.2 and §7): label dropout 0.1 (label → num_classes,
// the null class, drawn per sample from the run's generator), AimModel.Forward with the class token first, and the
// mean cross-entropy over all B·T positions against all T codes (logit t predicts code t). With --precision bf16 the
// forward, loss and backward run inside an Autocast scope: the linear layers and the tied head multiply in bf16 with
// float32 accumulation and float32 results; everything else (and the weights and their gradients) stays float32.
using Aim.Engine.Autograd;
using Aim.Engine.IO;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Models.Training;

/// <summary>Trains an <see cref="AimModel"/> on a <see cref="TokenShardReader"/>.</summary>
public sealed class Stage2Trainer : TrainerBase
{
    /// <summary>The original's hard-coded label-dropout rate (spec §2.2).</summary>
    public const double DefaultLabelDropout = 0.1;

    private readonly AimModel _model;
    private readonly TokenShardReader _data;

    /// <summary>Probability of replacing a label by the null class.</summary>
    public double LabelDropout { get; init; } = DefaultLabelDropout;

    /// <summary>
    /// A trainer for <paramref name="model"/> (already initialised, e.g. with <see cref="AimModel.InitializeRandom"/>)
    /// on <paramref name="data"/>, whose vocabulary, classes and token count must match the model's config.
    /// </summary>
    public Stage2Trainer(AimModel model, TokenShardReader data, TrainOptions options, string runDir)
        : base("stage2", model, model.NamedParameters(), model.Config.ToJson(), data.Identity, data.Count, options, runDir)
    {
        var c = model.Config;
        if (c.VocabSize != data.VocabSize || c.NumClasses != data.NumClasses || c.NumTokens != data.Tokens)
            throw new ArgumentException($"train: the model (vocab {c.VocabSize}, {c.NumClasses} classes, {c.NumTokens} tokens) does not fit the data in {data.Folder} (vocab {data.VocabSize}, {data.NumClasses} classes, {data.Tokens} tokens)");
        if (c.TokenDrop != 0) throw new ArgumentException($"train: token_drop {c.TokenDrop} is not supported (AiM trains with 0)");
        _model = model;
        _data = data;
    }

    /// <inheritdoc />
    protected override string ItemName => "tokens";

    /// <inheritdoc />
    protected override (double Loss, long Items, IReadOnlyDictionary<string, double> Parts) MicroBatch(int[] indices, Rng rng)
    {
        int b = indices.Length, t = _data.Tokens, v = _model.Config.VocabSize;
        var codes = new long[b * t];
        var labels = new long[b];
        int dropped = 0;
        for (int i = 0; i < b; i++)
        {
            var src = _data.Codes(indices[i]);
            for (int j = 0; j < t; j++) codes[i * t + j] = src[j];
            bool drop = rng.NextFloat() < LabelDropout;
            labels[i] = drop ? _model.Config.NumClasses : _data.Label(indices[i]);
            dropped += drop ? 1 : 0;
        }
        var device = _model.WordEmbeddings.Weight.Device;
        var codesT = Tensor.FromArray(codes, [b, t], device);                 // (B, T)
        var labelsT = Tensor.FromArray(labels, [b], device);                  // (B)
        double value;
        using (Autocast.Enable(Options.ProductDType))
        {
            var (logits, _) = _model.Forward(codesT, labelsT);                // (B, T, V)
            var loss = Ops.CrossEntropy(Ops.Reshape(logits, b * t, v), Ops.Reshape(codesT, b * t));
            value = loss.Item();
            Tape.Backward(loss);
        }
        return (value, (long)b * t, new Dictionary<string, double> { ["dropped"] = dropped });
    }

    /// <inheritdoc />
    protected override void WriteModelFolder(string dir, IEnumerable<KeyValuePair<string, Tensor>> weights)
    {
        // Trained with token j at pos[j]: the saved config tells the decoder to feed tokens the same way (spec §11 Q1).
        File.WriteAllText(Path.Combine(dir, "config.json"), (_model.Config with { DecodePositions = DecodePositions.Training }).ToJson());
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), weights, new Dictionary<string, string> { ["format"] = "pt" });
    }
}

using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Models.Stage2;

/// <summary>
/// AiM stage 2 (MambaLMHeadModel → MixerModel, spec §2): class embedding with a null class, token + position
/// embeddings, blocks, final fused add + RMSNorm, FinalLayer (adaLN RMSNorm) and an lm_head tied to the token
/// embedding. Parameter names are the original state_dict keys without the "mamba." prefix.
/// Shape letters: B batch, T tokens per image, d width, V vocabulary.
/// </summary>
public sealed class AimModel : Module
{
    /// <summary>Epsilon of every RMSNorm (the original hard-codes 1e-5).</summary>
    public const double NormEps = 1e-5;

    /// <summary>The configuration.</summary>
    public AimConfig Config { get; }
    /// <summary>backbone.embeddings.word_embeddings: (V, d); also the lm_head weight (tied).</summary>
    public Embedding WordEmbeddings { get; }
    /// <summary>backbone.embeddings.position_embeddings: (T + 1, d).</summary>
    public Embedding PositionEmbeddings { get; }
    /// <summary>backbone.cls_embed.embedding_table: (classes + 1, d); the last row is the null class.</summary>
    public Embedding ClassEmbeddings { get; }
    /// <summary>backbone.adaln_group.1 (adaLN-group only): d → G·3·d.</summary>
    public Linear? AdaLnGroup { get; }
    /// <summary>backbone.layers.i.</summary>
    public IReadOnlyList<AimBlock> Layers { get; }
    /// <summary>backbone.norm_f.</summary>
    public RmsNorm NormF { get; }
    /// <summary>backbone.final_layer.norm_final.</summary>
    public RmsNorm NormFinal { get; }
    /// <summary>backbone.final_layer.adaLN_modulation.1: d → 2d (shift | scale).</summary>
    public Linear FinalModulation { get; }

    /// <summary>Builds the model with zero parameters (load a checkpoint or call <see cref="InitializeRandom"/>).</summary>
    public AimModel(AimConfig config)
    {
        Config = config.Validate();
        int d = config.DModel;
        var backbone = RegisterModule("backbone", new Container());
        var embeddings = backbone.Add("embeddings", new Container());
        WordEmbeddings = embeddings.Add("word_embeddings", new Embedding(config.VocabSize, d));
        PositionEmbeddings = embeddings.Add("position_embeddings", new Embedding(config.NumTokens + 1, d));
        ClassEmbeddings = backbone.Add("cls_embed", new Container()).Add("embedding_table", new Embedding(config.NumClasses + 1, d));
        if (config.AdalnGroup)
            AdaLnGroup = backbone.Add("adaln_group", new SequentialSlot1(d, config.NumGroups * 3 * d)).Linear;
        var layers = backbone.Add("layers", new Container());
        var list = new List<AimBlock>();
        for (int i = 0; i < config.NLayer; i++) list.Add(layers.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture), new AimBlock(config)));
        Layers = list;
        var finalLayer = backbone.Add("final_layer", new Container());
        NormFinal = finalLayer.Add("norm_final", new RmsNorm(d, NormEps));
        FinalModulation = finalLayer.Add("adaLN_modulation", new SequentialSlot1(d, 2 * d)).Linear;
        NormF = backbone.Add("norm_f", new RmsNorm(d, NormEps));
    }

    /// <summary>A named folder of modules (the dotted path segments of the state_dict).</summary>
    private sealed class Container : Module
    {
        public T Add<T>(string name, T module) where T : Module => RegisterModule(name, module);
    }

    /// <summary>The tied key the original also writes in pytorch_model.bin.</summary>
    public const string TiedHeadKey = "lm_head.weight";

    /// <summary>
    /// Per-layer adaLN rows for a batch of class embeddings. cond: (B, d) class embedding → list over layers of
    /// (shift, scale, gate), each (B, d).
    /// </summary>
    public IReadOnlyList<(Tensor Shift, Tensor ScalePlusOne, Tensor Gate)> LayerModulations(Tensor cond)
    {
        var siluCond = Ops.Silu(cond);
        Tensor? groups = null;                                            // (B, 3G, d)
        if (AdaLnGroup is not null)
        {
            var g = AdaLnGroup.Forward(siluCond);
            groups = Ops.Reshape(g, g.Shape[0], 3 * Config.NumGroups, Config.DModel);
        }
        var result = new List<(Tensor, Tensor, Tensor)>();
        for (int i = 0; i < Layers.Count; i++)
        {
            // Layer i uses group i mod G (interleaved), rows 3k..3k+2 = (shift, scale, gate).
            Tensor? rows = groups is null ? null : Ops.Narrow(groups, 1, 3 * (i % Config.NumGroups), 3);
            result.Add(Layers[i].Modulation(siluCond, rows));
        }
        return result;
    }

    /// <summary>The final layer's adaLN rows for class embeddings cond (B, d): (shift, 1 + scale), each (B, d), contiguous.</summary>
    public (Tensor Shift, Tensor ScalePlusOne) FinalModulationRows(Tensor cond)
    {
        var m = FinalModulation.Forward(Ops.Silu(cond));                  // (B, 2d): shift | scale
        return (Ops.Contiguous(Ops.Narrow(m, 1, 0, Config.DModel)), Ops.AddScalar(Ops.Narrow(m, 1, Config.DModel, Config.DModel), 1.0));
    }

    /// <summary>
    /// FinalLayer: RMSNorm(h)·(1 + scale_f) + shift_f with [shift_f | scale_f] = Linear(silu(cond)).
    /// h: (B, L, d); cond: (B, d).
    /// </summary>
    private Tensor FinalLayer(Tensor h, Tensor cond)
    {
        var (shift, scalePlusOne) = FinalModulationRows(cond);
        var n = NormFinal.Forward(h);
        return Ops.Modulate(n, scalePlusOne, shift);                    // rows (B, d) over L
    }

    /// <summary>
    /// Training forward (spec §2.2) with label dropout already applied by the caller.
    /// codes: (B, T) int64 image tokens; labels: (B) int64 class ids (num_classes = null class).
    /// Returns (logits (B, T, V), final hidden (B, T, d)); logits[:, t] predicts codes[:, t].
    /// <paramref name="positionStart"/> is the position id of codes[:, 0]: 0 in training; the decode loop uses 1 with
    /// the original's step offset (spec §6.2's off-by-one) and 0 with <see cref="DecodePositions.Training"/>, so a
    /// forward with that start equals teacher-forced decoding.
    /// </summary>
    public (Tensor Logits, Tensor FinalHidden) Forward(Tensor codes, Tensor labels, int positionStart = 0)
    {
        int b = codes.Shape[0], t = codes.Shape[1];
        if (codes.Rank != 2 || t != Config.NumTokens || labels.Rank != 1 || labels.Shape[0] != b)
            throw new ArgumentException($"AimModel.Forward: codes {Tensor.ShapeString(codes.Shape)} and labels {Tensor.ShapeString(labels.Shape)} must be (B, {Config.NumTokens}) and (B)");
        var cond = ClassEmbeddings.Forward(labels);                        // (B, d)
        var inputs = Ops.Narrow(codes, 1, 0, t - 1);                      // (B, T-1): the last code is not fed
        var tok = Ops.Add(WordEmbeddings.Forward(inputs), PositionRows(positionStart, t - 1)); // (B, T-1, d)
        var hidden = Ops.Concat([Ops.Unsqueeze(cond, 1), tok], 1);        // (B, T, d): class slot has no position
        var mods = LayerModulations(cond);
        Tensor? residual = null;
        for (int i = 0; i < Layers.Count; i++)
            (hidden, residual) = Layers[i].Forward(hidden, residual, mods[i]);
        var (normed, _) = Ops.AddRmsNorm(hidden, residual, NormF.Weight, NormEps);
        var final = FinalLayer(normed, cond);
        var logits = Ops.MatMul(Ops.Reshape(final, b * t, Config.DModel), WordEmbeddings.Weight, transB: true);
        return (Ops.Reshape(logits, b, t, Config.VocabSize), final);
    }

    /// <summary>Position rows [start, start + count) as (count, d).</summary>
    private Tensor PositionRows(int start, int count) => Ops.Narrow(PositionEmbeddings.Weight, 0, start, count);

    /// <summary>The step input for image token ids (B) at position <paramref name="position"/>: word[ids] + pos[position].</summary>
    public Tensor TokenInput(Tensor ids, int position)
    {
        if (position < 0 || position > Config.NumTokens)
            throw new ArgumentOutOfRangeException(nameof(position), $"position {position} outside 0..{Config.NumTokens}");
        return Ops.Add(WordEmbeddings.Forward(ids), Ops.Select(PositionEmbeddings.Weight, 0, position));
    }

    /// <summary>
    /// Weight-only bf16 for decoding: stores the per-step matrices (in_proj, out_proj and the tied token table /
    /// head) in bf16, halving the bytes each bandwidth-bound decode step reads; activations, residual stream and
    /// SSM state stay f32. Not for training. Returns the number of tensors converted.
    /// </summary>
    public int UseBFloat16Weights() => ConvertParameters(DType.BFloat16, name =>
        name.EndsWith("in_proj.weight", StringComparison.Ordinal) || name.EndsWith("out_proj.weight", StringComparison.Ordinal)
        || name == "backbone.embeddings.word_embeddings.weight");

    /// <summary>Fresh zeroed decoding caches for <paramref name="batch"/> rows.</summary>
    public List<MixerState> NewStates(int batch, Device device) => Layers.Select(l => l.Mixer.NewState(batch, device)).ToList();

    /// <summary>
    /// Random weights with the original's distributions (spec §5, §3.2), for benchmarks and training from scratch.
    /// Unlike the original, adaLN layers are not zeroed when <paramref name="zeroAdaLn"/> is false (tests want every path live).
    /// </summary>
    public void InitializeRandom(Rng rng, bool zeroAdaLn = true)
    {
        int d = Config.DModel, e = Config.DInner;
        foreach (var (name, p) in NamedParameters())
        {
            using var scope = TensorScope.Open();
            Tensor value;
            if (name.EndsWith("embeddings.weight", StringComparison.Ordinal) || name.EndsWith("embedding_table.weight", StringComparison.Ordinal))
                value = rng.Normal(p.Shape, 0, 0.02);
            else if (name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm_f.weight", StringComparison.Ordinal) || name.EndsWith("norm_final.weight", StringComparison.Ordinal))
                value = Tensor.Full(p.Shape, 1.0);
            else if (name.EndsWith("mixer.D", StringComparison.Ordinal))
                value = Tensor.Full(p.Shape, 1.0);
            else if (name.EndsWith("A_log", StringComparison.Ordinal))
                value = Ops.Log(rng.Uniform(p.Shape, 1, 16));
            else if (name.EndsWith("dt_bias", StringComparison.Ordinal))
            {
                // dt log-uniform in [1e-3, 1e-1], clamped at 1e-4, stored as inverse softplus: dt + log(-expm1(-dt)).
                var dts = new float[p.Count];
                for (int i = 0; i < dts.Length; i++)
                {
                    double dt = Math.Max(Math.Exp(rng.NextDouble() * (Math.Log(0.1) - Math.Log(0.001)) + Math.Log(0.001)), 1e-4);
                    dts[i] = (float)(dt + Math.Log(-(Math.Exp(-dt) - 1)));
                }
                value = Tensor.FromArray(dts, p.Shape);
            }
            else if (name.EndsWith("conv1d.weight", StringComparison.Ordinal) || name.EndsWith("conv1d.bias", StringComparison.Ordinal))
                value = rng.Uniform(p.Shape, -0.5, 0.5);
            else if (name.EndsWith("out_proj.weight", StringComparison.Ordinal))
                value = rng.Uniform(p.Shape, -1 / Math.Sqrt(e) / Math.Sqrt(Config.NLayer), 1 / Math.Sqrt(e) / Math.Sqrt(Config.NLayer));
            else if (name.EndsWith("scale_shift_table", StringComparison.Ordinal))
                value = rng.Normal(p.Shape, 0, 1 / Math.Sqrt(d));
            else if (zeroAdaLn && name.Contains("adaLN_modulation", StringComparison.Ordinal))
                value = Tensor.Zeros(p.Shape);
            else if (name.EndsWith(".bias", StringComparison.Ordinal) && !name.Contains("adaLN_modulation", StringComparison.Ordinal))
                value = Tensor.Zeros(p.Shape);
            else
            {
                double bound = 1 / Math.Sqrt(p.Shape[^1]);                  // PyTorch Linear default: U(±1/√fan_in)
                value = rng.Uniform(p.Shape, -bound, bound);
            }
            Ops.CopyInto(value, p);
        }
    }
}

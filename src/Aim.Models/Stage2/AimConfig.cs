using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aim.Models.Stage2;

/// <summary>
/// Mamba-2 mixer hyper-parameters (mamba_ssm Mamba2 constructor arguments; AiM uses the defaults).
/// Names follow the reference in camelCase: dState, dConv, expand, headDim, nGroups, chunkSize.
/// </summary>
public sealed record SsmConfig
{
    /// <summary>N: SSM state size per head.</summary>
    public int DState { get; init; } = 128;
    /// <summary>K: causal conv width.</summary>
    public int DConv { get; init; } = 4;
    /// <summary>E = expand · d_model.</summary>
    public int Expand { get; init; } = 2;
    /// <summary>P: channels per head.</summary>
    public int HeadDim { get; init; } = 64;
    /// <summary>G: groups sharing B and C (and gated-norm groups).</summary>
    public int NGroups { get; init; } = 1;
    /// <summary>Q: SSD chunk length (numerics only).</summary>
    public int ChunkSize { get; init; } = 256;
}

/// <summary>
/// AiM's MambaConfig (models/stage2/config_mamba.py), the fields of the official config.json.
/// Unsupported variants (an MLP sub-block, attention layers, non-RMS norms) are refused by <see cref="Validate"/>.
/// </summary>
public sealed record AimConfig
{
    /// <summary>d: model width.</summary>
    public int DModel { get; init; } = 1024;
    /// <summary>0: no MLP sub-block (the only value AiM uses).</summary>
    public int DIntermediate { get; init; }
    /// <summary>Number of blocks.</summary>
    public int NLayer { get; init; } = 48;
    /// <summary>Token vocabulary (= VQ codebook size); not padded (AiM ignores pad_vocab_size_multiple).</summary>
    public int VocabSize { get; init; } = 16384;
    /// <summary>Mixer settings.</summary>
    public SsmConfig Ssm { get; init; } = new();
    /// <summary>Class labels; the class table has one more row, the null class for CFG.</summary>
    public int NumClasses { get; init; } = 1000;
    /// <summary>Image tokens per sample (16×16 = 256 for VQ-f16 at 256 px).</summary>
    public int NumTokens { get; init; } = 256;
    /// <summary>adaLN-group (L, XL) instead of per-layer adaLN (B).</summary>
    public bool AdalnGroup { get; init; }
    /// <summary>G of adaLN-group.</summary>
    public int NumGroups { get; init; } = 1;
    /// <summary>Dropout on word embeddings during training.</summary>
    public double TokenDrop { get; init; }
    /// <summary>
    /// Which position row a decoded token is fed with (spec §11 Q1). Not a field of the original's config: written as
    /// "decode_positions": "training" only by models trained here; absent means the original's step offset.
    /// </summary>
    public DecodePositions DecodePositions { get; init; }

    /// <summary>Derived: d_inner = expand · d.</summary>
    public int DInner => Ssm.Expand * DModel;
    /// <summary>Derived: heads = d_inner / headdim.</summary>
    public int NHeads => DInner / Ssm.HeadDim;
    /// <summary>Derived: conv channels = d_inner + 2·G·N.</summary>
    public int ConvDim => DInner + 2 * Ssm.NGroups * Ssm.DState;
    /// <summary>Derived: in_proj rows = 2·d_inner + 2·G·N + heads.</summary>
    public int InProjDim => 2 * DInner + 2 * Ssm.NGroups * Ssm.DState + NHeads;

    /// <summary>AiM-B: d 768, 24 layers, per-layer adaLN.</summary>
    public static AimConfig AimB => new() { DModel = 768, NLayer = 24, AdalnGroup = false, NumGroups = 1 };
    /// <summary>AiM-L: d 1024, 48 layers, adaLN-group with 4 groups.</summary>
    public static AimConfig AimL => new() { DModel = 1024, NLayer = 48, AdalnGroup = true, NumGroups = 4 };
    /// <summary>AiM-XL: d 1536, 48 layers, adaLN-group with 4 groups.</summary>
    public static AimConfig AimXL => new() { DModel = 1536, NLayer = 48, AdalnGroup = true, NumGroups = 4 };

    /// <summary>The built-in configs by name (aim-b, aim-l, aim-xl; case-insensitive), or null.</summary>
    public static AimConfig? BuiltIn(string name) => name.ToLowerInvariant().Replace("_", "-", StringComparison.Ordinal) switch
    {
        "aim-b" or "aim-base" => AimB,
        "aim-l" or "aim-large" => AimL,
        "aim-xl" or "aim-xlarge" => AimXL,
        _ => null,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public AimConfig Validate()
    {
        if (DModel <= 0 || NLayer <= 0 || VocabSize <= 0 || NumClasses <= 0 || NumTokens <= 1)
            throw new ArgumentException("config: d_model, n_layer, vocab_size, num_classes must be positive and num_tokens > 1");
        if (DIntermediate != 0) throw new ArgumentException($"config: d_intermediate {DIntermediate} (an MLP sub-block) is not supported; AiM uses 0");
        if (DInner % Ssm.HeadDim != 0) throw new ArgumentException($"config: d_inner {DInner} is not a multiple of headdim {Ssm.HeadDim}");
        if (NHeads % Ssm.NGroups != 0) throw new ArgumentException($"config: {NHeads} heads do not divide into ngroups {Ssm.NGroups}");
        if (Ssm.DState <= 0 || Ssm.DConv <= 0 || Ssm.ChunkSize <= 0) throw new ArgumentException("config: d_state, d_conv and chunk_size must be positive");
        if (AdalnGroup && NumGroups <= 0) throw new ArgumentException($"config: num_groups {NumGroups} must be positive with adaln_group");
        return this;
    }

    /// <summary>Parses the original's config.json (MambaConfig.__dict__ as json.dump writes it).</summary>
    public static AimConfig FromJson(string json, string source)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new InvalidDataException($"{source}: expected a JSON object");
        try
        {
            var ssm = new SsmConfig();
            if (o["ssm_cfg"] is JsonObject s)
            {
                string layer = s["layer"]?.GetValue<string>() ?? "Mamba2";
                if (layer != "Mamba2") throw new InvalidDataException($"{source}: ssm_cfg.layer '{layer}' is not supported (only Mamba2)");
                ssm = new SsmConfig
                {
                    DState = Int(s, "d_state", ssm.DState),
                    DConv = Int(s, "d_conv", ssm.DConv),
                    Expand = Int(s, "expand", ssm.Expand),
                    HeadDim = Int(s, "headdim", ssm.HeadDim),
                    NGroups = Int(s, "ngroups", ssm.NGroups),
                    ChunkSize = Int(s, "chunk_size", ssm.ChunkSize),
                };
                foreach (var (key, _) in s)
                    if (key is not ("layer" or "d_state" or "d_conv" or "expand" or "headdim" or "ngroups" or "chunk_size"))
                        throw new InvalidDataException($"{source}: ssm_cfg.{key} is not supported");
            }
            if (o["attn_layer_idx"] is JsonArray a && a.Count > 0)
                throw new InvalidDataException($"{source}: attention layers (attn_layer_idx) are not supported");
            if (o["rms_norm"] is JsonNode rn && !rn.GetValue<bool>())
                throw new InvalidDataException($"{source}: rms_norm=false is not supported");
            var defaults = new AimConfig();
            return new AimConfig
            {
                DModel = Int(o, "d_model", defaults.DModel),
                DIntermediate = Int(o, "d_intermediate", 0),
                NLayer = Int(o, "n_layer", defaults.NLayer),
                VocabSize = Int(o, "vocab_size", defaults.VocabSize),
                Ssm = ssm,
                NumClasses = Int(o, "num_classes", defaults.NumClasses),
                NumTokens = Int(o, "num_tokens", defaults.NumTokens),
                AdalnGroup = o["adaln_group"]?.GetValue<bool>() ?? false,
                NumGroups = Int(o, "num_groups", 1),
                TokenDrop = o["token_drop"]?.GetValue<double>() ?? 0,
                DecodePositions = o["decode_positions"]?.GetValue<string>() switch
                {
                    null or "step_offset" => DecodePositions.StepOffset,
                    "training" => DecodePositions.Training,
                    var other => throw new InvalidDataException($"{source}: decode_positions '{other}' is not one of step_offset, training"),
                },
            }.Validate();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}");
        }
    }

    private static int Int(JsonObject o, string key, int fallback) => o[key] is JsonNode n ? n.GetValue<int>() : fallback;

    /// <summary>Writes config.json in the original's field names.</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["d_model"] = DModel,
            ["d_intermediate"] = DIntermediate,
            ["n_layer"] = NLayer,
            ["vocab_size"] = VocabSize,
            ["ssm_cfg"] = new JsonObject
            {
                ["layer"] = "Mamba2",
                ["d_state"] = Ssm.DState,
                ["d_conv"] = Ssm.DConv,
                ["expand"] = Ssm.Expand,
                ["headdim"] = Ssm.HeadDim,
                ["ngroups"] = Ssm.NGroups,
                ["chunk_size"] = Ssm.ChunkSize,
            },
            ["attn_layer_idx"] = new JsonArray(),
            ["attn_cfg"] = new JsonObject(),
            ["rms_norm"] = true,
            ["residual_in_fp32"] = true,
            ["fused_add_norm"] = true,
            ["pad_vocab_size_multiple"] = 8,
            ["tie_embeddings"] = true,
            ["num_classes"] = NumClasses,
            ["num_tokens"] = NumTokens,
            ["adaln_group"] = AdalnGroup,
            ["num_groups"] = NumGroups,
            ["token_drop"] = TokenDrop,
            ["mixer_drop"] = 0.0,
            ["mlp_drop"] = 0.0,
        };
        if (DecodePositions == DecodePositions.Training) o["decode_positions"] = "training";
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>The position row image token j is fed with while decoding (spec §11 Q1).</summary>
public enum DecodePositions
{
    /// <summary>The original's inference: token j at pos[j + 1] (the step offset). Official weights were sampled this way.</summary>
    StepOffset,
    /// <summary>Token j at pos[j], as the training forward feeds it: consistent with how the model was trained.</summary>
    Training,
}

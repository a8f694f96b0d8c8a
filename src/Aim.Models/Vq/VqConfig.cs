using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aim.Models.Vq;

/// <summary>
/// The LlamaGen VQ tokenizer's architecture numbers (spec §8.1). Defaults are VQ-f16 as AiM uses it:
/// ch 128, ch_mult (1,1,2,2,4), z 256, embed 8, codebook 16384, 2 res blocks (encoder; decoder has one more).
/// </summary>
public sealed record VqConfig
{
    /// <summary>Base channel count.</summary>
    public int Ch { get; init; } = 128;
    /// <summary>Channel multiplier per resolution level; downsampling factor = 2^(levels-1).</summary>
    public IReadOnlyList<int> ChMult { get; init; } = [1, 1, 2, 2, 4];
    /// <summary>Encoder output / decoder input channels.</summary>
    public int ZChannels { get; init; } = 256;
    /// <summary>Codebook vector size.</summary>
    public int EmbedDim { get; init; } = 8;
    /// <summary>Codebook entries (= AiM vocabulary).</summary>
    public int CodebookSize { get; init; } = 16384;
    /// <summary>Residual blocks per encoder level (decoder levels have one more).</summary>
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Image side in pixels.</summary>
    public int ImageSize { get; init; } = 256;
    /// <summary>Image channels in and out.</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Image channels out.</summary>
    public int OutChannels { get; init; } = 3;
    /// <summary>GroupNorm groups.</summary>
    public int NormGroups { get; init; } = 32;
    /// <summary>GroupNorm epsilon.</summary>
    public double NormEps { get; init; } = 1e-6;

    /// <summary>Spatial downsampling factor.</summary>
    public int Downsample => 1 << (ChMult.Count - 1);
    /// <summary>Latent grid side.</summary>
    public int LatentSize => ImageSize / Downsample;

    /// <summary>VQ-f16 as released by LlamaGen.</summary>
    public static VqConfig VqF16 => new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the inconsistent field.</summary>
    public VqConfig Validate()
    {
        if (Ch <= 0 || ChMult.Count == 0 || ChMult.Any(m => m <= 0)) throw new ArgumentException("vq config: ch and ch_mult must be positive");
        if (ZChannels <= 0 || EmbedDim <= 0 || CodebookSize <= 0 || NumResBlocks <= 0) throw new ArgumentException("vq config: sizes must be positive");
        foreach (int m in ChMult.Append(1))
            if (Ch * m % NormGroups != 0) throw new ArgumentException($"vq config: {Ch * m} channels do not split into {NormGroups} GroupNorm groups");
        if (ImageSize % Downsample != 0) throw new ArgumentException($"vq config: image size {ImageSize} is not a multiple of {Downsample}");
        return this;
    }

    /// <summary>Reads config.json (our field names, which are LlamaGen's VQConfig names plus ch/image_size).</summary>
    public static VqConfig FromJson(string json, string source)
    {
        try
        {
            if (JsonNode.Parse(json) is not JsonObject o) throw new InvalidDataException($"{source}: expected a JSON object");
            var d = new VqConfig();
            var gn = o["group_norm"] as JsonObject;
            return new VqConfig
            {
                Ch = o["ch"]?.GetValue<int>() ?? d.Ch,
                ChMult = o["ch_mult"] is JsonArray a ? a.Select(n => n!.GetValue<int>()).ToArray() : d.ChMult,
                ZChannels = o["z_channels"]?.GetValue<int>() ?? d.ZChannels,
                EmbedDim = o["embed_dim"]?.GetValue<int>() ?? o["codebook_embed_dim"]?.GetValue<int>() ?? d.EmbedDim,
                CodebookSize = o["codebook_size"]?.GetValue<int>() ?? d.CodebookSize,
                NumResBlocks = o["num_res_blocks"]?.GetValue<int>() ?? d.NumResBlocks,
                ImageSize = o["image_size"]?.GetValue<int>() ?? d.ImageSize,
                InChannels = o["in_channels"]?.GetValue<int>() ?? d.InChannels,
                OutChannels = o["out_channels"]?.GetValue<int>() ?? d.OutChannels,
                NormGroups = gn?["num_groups"]?.GetValue<int>() ?? d.NormGroups,
                NormEps = gn?["eps"]?.GetValue<double>() ?? d.NormEps,
            }.Validate();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}");
        }
    }

    /// <summary>Writes config.json.</summary>
    public string ToJson() => new JsonObject
    {
        ["ch"] = Ch,
        ["ch_mult"] = new JsonArray(ChMult.Select(m => (JsonNode)m).ToArray()),
        ["z_channels"] = ZChannels,
        ["embed_dim"] = EmbedDim,
        ["codebook_size"] = CodebookSize,
        ["num_res_blocks"] = NumResBlocks,
        ["image_size"] = ImageSize,
        ["in_channels"] = InChannels,
        ["out_channels"] = OutChannels,
        ["codebook_l2_norm"] = true,
        ["group_norm"] = new JsonObject { ["num_groups"] = NormGroups, ["eps"] = NormEps },
        ["latent_size"] = LatentSize,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

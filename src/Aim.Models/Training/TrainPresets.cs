// Holds: the model configs `aim train` / `aim train-vq` accept by name. The official shapes come from AimConfig /
// VqConfig (spec §1, §8.1); "tiny" ones are small enough to train on a CPU in minutes (Fashion-MNIST-sized data).
// Data-dependent sizes (vocabulary, classes, tokens; image size) are taken from the data.
using Aim.Models.Stage2;
using Aim.Models.Vq;

namespace Aim.Models.Training;

/// <summary>Named model configs for training.</summary>
public static class TrainPresets
{
    /// <summary>A stage-2 config by name (aim-b, aim-l, aim-xl, tiny) or from a config.json path, sized for the data.</summary>
    public static AimConfig Stage2(string spec, TokenShardReader data)
    {
        if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(spec))
        {
            if (!File.Exists(spec)) throw new FileNotFoundException($"model config not found: {spec}");
            return AimConfig.FromJson(File.ReadAllText(spec), spec);
        }
        var baseConfig = spec.Equals("tiny", StringComparison.OrdinalIgnoreCase)
            ? new AimConfig { DModel = 128, NLayer = 4, Ssm = new SsmConfig { DState = 16, HeadDim = 32, ChunkSize = 64 } }
            : AimConfig.BuiltIn(spec) ?? throw new ArgumentException($"unknown model config '{spec}' (expected aim-b, aim-l, aim-xl, tiny or a config.json path)");
        return (baseConfig with { VocabSize = data.VocabSize, NumClasses = data.NumClasses, NumTokens = data.Tokens }).Validate();
    }

    /// <summary>A VQ config by name (vq-f16, tiny) or from a config.json path; "tiny" takes the image size of the data.</summary>
    public static VqConfig Vq(string spec, int imageSize)
    {
        if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(spec))
        {
            if (!File.Exists(spec)) throw new FileNotFoundException($"VQ config not found: {spec}");
            return VqConfig.FromJson(File.ReadAllText(spec), spec);
        }
        return spec.ToLowerInvariant() switch
        {
            "vq-f16" or "vq16" => VqConfig.VqF16,
            // f4 (two downsamplings), 32 channels at the top, 1024 codes of 8 dims: a 28/32-px image becomes 7×7/8×8 codes.
            "tiny" => new VqConfig { Ch = 32, ChMult = [1, 2, 2], ZChannels = 32, EmbedDim = 8, CodebookSize = 1024, NumResBlocks = 1, ImageSize = imageSize }.Validate(),
            _ => throw new ArgumentException($"unknown VQ config '{spec}' (expected vq-f16, tiny or a config.json path)"),
        };
    }
}

using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Data;
using Aim.Models.Stage2;
using Aim.Models.Vq;

namespace Aim.Models.Tests.Training;

/// <summary>Tiny learnable problems for the trainer tests: token shards with class-dependent codes, and a synthetic image set.</summary>
internal static class TrainTestData
{
    public const int Vocab = 16, Classes = 3, Grid = 2;

    /// <summary>A fresh temporary folder.</summary>
    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "aim-train-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes two shards (README format) of images whose codes follow from the label: code j = (3·label + j) mod V.</summary>
    public static string WriteShards(string dir, int perShard = 12)
    {
        int t = Grid * Grid;
        for (int s = 0; s < 2; s++)
        {
            var codes = new int[perShard * t];
            var labels = new int[perShard];
            for (int i = 0; i < perShard; i++)
            {
                labels[i] = (i + s) % Classes;
                for (int j = 0; j < t; j++) codes[i * t + j] = (3 * labels[i] + j + (j == t - 1 ? i % 2 : 0)) % Vocab;
            }
            using var ct = Tensor.FromArray(codes, [perShard, t]);
            using var lt = Tensor.FromArray(labels, [perShard]);
            SafetensorsWriter.Write(Path.Combine(dir, $"shard-{s:D5}.safetensors"),
                [new("codes", ct), new("labels", lt)],
                new Dictionary<string, string>
                {
                    ["format"] = "aim-token-shard/1", ["num_classes"] = $"{Classes}", ["grid"] = $"{Grid}", ["vocab_size"] = $"{Vocab}",
                    ["class_names"] = "[\"a\",\"b\",\"c\"]", ["source"] = "test",
                });
        }
        return dir;
    }

    /// <summary>A tiny stage-2 config fitting <see cref="WriteShards"/>.</summary>
    public static AimConfig TinyAim => new()
    {
        DModel = 32, NLayer = 2, VocabSize = Vocab, NumClasses = Classes, NumTokens = Grid * Grid,
        Ssm = new SsmConfig { DState = 8, HeadDim = 8, ChunkSize = 4 },
    };

    /// <summary>A tiny VQ config for 8×8 images (f2, codebook 16).</summary>
    public static VqConfig TinyVq => new()
    {
        Ch = 8, ChMult = [1, 2], ZChannels = 8, EmbedDim = 4, CodebookSize = 16, NumResBlocks = 1, ImageSize = 8, NormGroups = 4,
    };
}

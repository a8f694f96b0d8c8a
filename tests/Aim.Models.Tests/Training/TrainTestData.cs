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

    /// <summary>Writes two shards with the real writer: codes follow from the label, code j = (3·label + j) mod V.</summary>
    public static string WriteShards(string dir, int perShard = 12)
    {
        int t = Grid * Grid;
        var writer = new TokenShardWriter(dir, new TokenShardMetadata(Classes, Grid, Vocab, ["a", "b", "c"], "test"), perShard);
        var codes = new int[t];
        for (int s = 0; s < 2; s++)
        {
            for (int i = 0; i < perShard; i++)
            {
                int label = (i + s) % Classes;
                for (int j = 0; j < t; j++) codes[j] = (3 * label + j + (j == t - 1 ? i % 2 : 0)) % Vocab;
                writer.Add(codes, label);
            }
        }
        writer.Complete();
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

// Holds: end-to-end tokenization with the fixture VQ (the folder under the fixtures root whose config.json has
// "codebook_size"; image_size 16) on generated 16×16 PNGs, and the wrong-size error that must leave no output.
using System.Text.Json.Nodes;
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Data;

namespace Aim.Models.Tests.Data;

public class TokenizeTests
{
    private static string FixtureVq()
        => Fixtures.ConfigFolders().Select(Fixtures.Resolve)
            .First(f => JsonNode.Parse(File.ReadAllText(Path.Combine(f, "config.json"))) is JsonObject o && o.ContainsKey("codebook_size"));

    private static void MakeFolder(TempFolder dir, int size)
    {
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 5; k++)
                TestImages.Write(dir.Combine("images", c == 0 ? "circles" : "stripes", $"{k}.png"), size + k, size, (x, y) => c == 0
                    ? ((byte)((x - 8) * (x - 8) + (y - 8) * (y - 8) < 20 + 5 * k ? 230 : 20), (byte)(40 * k), (byte)90)
                    : ((byte)((x + k) % 4 < 2 ? 250 : 10), (byte)(y * 15), (byte)(k * 50)));
    }

    [Fact]
    public void EncodesEveryImageIntoShards()
    {
        using var dir = new TempFolder();
        MakeFolder(dir, 16);
        var data = DatasetFactory.Open($"folder:{dir.Combine("images")}:size=16");
        using var vq = VqCheckpoint.Load(FixtureVq(), out _);
        var progress = new List<int>();
        var set = DatasetTokenizer.Run(vq, data, dir.Combine("out", "tokens"), shardSize: 4, batchSize: 3, source: "test", progress: progress.Add);

        Assert.Equal([3, 6, 9, 10], progress);
        Assert.Equal(10, set.Count);
        Assert.Equal([4, 4, 2], set.ShardCounts);
        Assert.Equal((vq.Config.LatentSize, vq.Config.CodebookSize, 2), (set.Metadata.Grid, set.Metadata.VocabSize, set.Metadata.NumClasses));
        Assert.Equal(["circles", "stripes"], set.Metadata.ClassNames);
        var (codes, labels) = set.ReadAll();
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], labels);

        // The same codes as encoding all ten images in one call.
        var pixels = new float[10 * 3 * 16 * 16];
        for (int i = 0; i < 10; i++) data.Read(i, pixels.AsSpan(i * 768, 768));
        using (TensorScope.Open())
        using (Tape.NoGrad())
        {
            var expected = vq.Encode(Tensor.FromArray(pixels, [10, 3, 16, 16])).ToArray<long>();
            Assert.Equal(expected.Select(v => (int)v).ToArray(), codes);
        }
        Assert.True(codes.Distinct().Count() > 1);
        Assert.Equal(["tokens"], Directory.GetFileSystemEntries(dir.Combine("out")).Select(Path.GetFileName));
    }

    [Fact]
    public void WrongImageSizeLeavesNoOutput()
    {
        using var dir = new TempFolder();
        MakeFolder(dir, 16);
        var data = DatasetFactory.Open($"folder:{dir.Combine("images")}:size=32");
        using var vq = VqCheckpoint.Load(FixtureVq(), out _);
        var e = Assert.Throws<ArgumentException>(() => DatasetTokenizer.Run(vq, data, dir.Combine("out", "tokens")));
        Assert.Contains("32x32", e.Message, StringComparison.Ordinal);
        Assert.Contains("16x16", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Combine("out")));
    }

    [Fact]
    public void FailureMidwayRemovesTheTemporaryFolder()
    {
        using var dir = new TempFolder();
        MakeFolder(dir, 16);
        File.WriteAllText(dir.Combine("images", "stripes", "9.png"), "broken");
        var data = DatasetFactory.Open($"folder:{dir.Combine("images")}:size=16");
        using var vq = VqCheckpoint.Load(FixtureVq(), out _);
        var e = Assert.Throws<InvalidDataException>(() => DatasetTokenizer.Run(vq, data, dir.Combine("out", "tokens"), shardSize: 2, batchSize: 4));
        Assert.Contains("9.png", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Combine("out")));
        Assert.Equal(["images"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void ExistingOutputIsRefused()
    {
        using var dir = new TempFolder();
        MakeFolder(dir, 16);
        Directory.CreateDirectory(dir.Combine("out"));
        var data = DatasetFactory.Open($"folder:{dir.Combine("images")}:size=16");
        using var vq = VqCheckpoint.Load(FixtureVq(), out _);
        Assert.Throws<IOException>(() => DatasetTokenizer.Run(vq, data, dir.Combine("out")));
    }
}

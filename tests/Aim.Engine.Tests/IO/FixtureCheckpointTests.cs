// Holds: checks on the golden fixtures (found by content under AIM_FIXTURES or ../shared/fixtures, never by name):
// pytorch_model.bin equals model.safetensors bit for bit (plus the tied lm_head.weight sharing the embedding's
// storage), a VQ folder's .pt ["model"] equals its model.safetensors, and the model-folder helper.
using Aim.BackendOps;
using Aim.Engine.IO;

namespace Aim.Engine.Tests.IO;

public sealed class FixtureCheckpointTests
{
    private const string TiedKey = "lm_head.weight";
    private const string EmbeddingKey = "backbone.embeddings.word_embeddings.weight";

    /// <summary>AiM folders (config.json with d_model) holding both weight formats.</summary>
    public static TheoryData<string> AimFolders() => [.. AimFolderList()];

    private static List<string> AimFolderList() => Folders("\"d_model\"", "model.safetensors", "pytorch_model.bin");

    /// <summary>VQ folders (config.json with codebook_size) holding a .pt next to model.safetensors.</summary>
    public static TheoryData<string> VqFolders()
    {
        var data = new TheoryData<string>();
        foreach (string rel in Folders("\"codebook_size\"", "model.safetensors"))
            if (Directory.EnumerateFiles(Fixtures.Resolve(rel), "*.pt").Any()) data.Add(rel);
        return data;
    }

    private static List<string> Folders(string configKey, params string[] files)
    {
        var data = new List<string>();
        foreach (string rel in Fixtures.ConfigFolders())
        {
            string dir = Fixtures.Resolve(rel);
            if (File.ReadAllText(Path.Combine(dir, "config.json")).Contains(configKey, StringComparison.Ordinal)
                && files.All(f => File.Exists(Path.Combine(dir, f))))
                data.Add(rel);
        }
        return data;
    }

    [Fact]
    public void FixtureRootHoldsModelFolders()
    {
        Assert.True(Directory.Exists(Fixtures.Root), Fixtures.Root);
        Assert.NotEmpty(Fixtures.ConfigFolders());
    }

    [Theory]
    [MemberData(nameof(AimFolders))]
    public void PytorchBinMatchesSafetensorsBitForBit(string folder)
    {
        string dir = Fixtures.Resolve(folder);
        using var st = CheckpointReader.Load(Path.Combine(dir, "model.safetensors"));
        using var pt = CheckpointReader.Load(Path.Combine(dir, "pytorch_model.bin"));

        Assert.Equal("pt", st.Metadata["format"]);
        Assert.DoesNotContain(TiedKey, st.Keys);
        Assert.Equal(st.Keys.Append(TiedKey).Order(StringComparer.Ordinal), pt.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, expected) in st)
        {
            var got = pt[name];
            Assert.Equal(expected.DType, got.DType);
            Assert.Equal(expected.Shape.ToArray(), got.Shape.ToArray());
            Assert.True(IOTestUtil.RawBytes(expected).AsSpan().SequenceEqual(IOTestUtil.RawBytes(got)), $"{folder}: tensor '{name}' differs");
        }

        // Tied weights: two tensors, one storage.
        Assert.NotSame(pt[TiedKey], pt[EmbeddingKey]);
        Assert.Same(pt[TiedKey].StorageOrThrow, pt[EmbeddingKey].StorageOrThrow);
        Assert.Equal(IOTestUtil.RawBytes(st[EmbeddingKey]), IOTestUtil.RawBytes(pt[TiedKey]));
    }

    [Theory]
    [MemberData(nameof(VqFolders))]
    public void VqCheckpointModelKeyMatchesSafetensors(string folder)
    {
        string dir = Fixtures.Resolve(folder);
        using var st = CheckpointReader.Load(Path.Combine(dir, "model.safetensors"));
        using var pt = CheckpointReader.Load(Directory.EnumerateFiles(dir, "*.pt").Order(StringComparer.Ordinal).First(), "model");

        Assert.Equal(st.Keys.Order(StringComparer.Ordinal), pt.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("quantize.codebook_used", pt.Keys);
        foreach (var (name, expected) in st)
        {
            Assert.Equal(expected.DType, pt[name].DType);
            Assert.Equal(expected.Shape.ToArray(), pt[name].Shape.ToArray());
            Assert.True(IOTestUtil.RawBytes(expected).AsSpan().SequenceEqual(IOTestUtil.RawBytes(pt[name])), $"vq: tensor '{name}' differs");
        }
    }

    [Theory]
    [MemberData(nameof(AimFolders))]
    public void InputsHoldIntegerAndScalarTensors(string folder)
    {
        string dir = Fixtures.Resolve(folder);
        using var inputs = SafetensorsFile.Load(Path.Combine(dir, "inputs.safetensors"));
        int classes = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!["num_classes"]!.GetValue<int>();
        var labels = inputs["train_labels"];
        Assert.Equal(Aim.Engine.Tensors.DType.Int64, labels.DType);
        Assert.Equal(1, labels.Rank);
        Assert.All(labels.ToArray<long>(), l => Assert.InRange(l, 0, classes));   // num_classes itself is the null class
        Assert.Single(inputs["cfg_scale"].ToArray<float>());
    }

    [Theory]
    [MemberData(nameof(AimFolders))]
    public void TorchRootKeepsStateDictMetadata(string folder)
    {
        using var ckpt = TorchCheckpoint.Open(Path.Combine(Fixtures.Resolve(folder), "pytorch_model.bin"));
        var root = ckpt.Root.AsDict("root");
        Assert.True(root.Attributes.ContainsKey("_metadata"));
        Assert.IsType<PickleTensor>(root[EmbeddingKey]);
    }

    [Theory]
    [MemberData(nameof(AimFolders))]
    public void ModelFolderFindsConfigAndPrefersSafetensors(string fixture)
    {
        var folder = ModelFolder.Open(Fixtures.Resolve(fixture));
        Assert.EndsWith("model.safetensors", folder.WeightsPath, StringComparison.Ordinal);
        Assert.Equal(CheckpointFormat.Safetensors, folder.Format);
        Assert.Contains("d_model", folder.ReadConfigText(), StringComparison.Ordinal);
        using var weights = folder.LoadWeights();
        Assert.True(weights.ContainsKey(EmbeddingKey));
    }

    [Fact]
    public void ModelFolderNamesMissingFiles()
    {
        using var dir = new ScratchFolder();
        var ex = Assert.Throws<FileNotFoundException>(() => ModelFolder.Open(dir.FolderPath));
        Assert.Contains(Path.Combine(dir.FolderPath, "config.json"), ex.Message, StringComparison.Ordinal);

        File.WriteAllText(dir.File("config.json"), "{}");
        ex = Assert.Throws<FileNotFoundException>(() => ModelFolder.Open(dir.FolderPath));
        Assert.Contains(dir.File("model.safetensors"), ex.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File("pytorch_model.bin"), ex.Message, StringComparison.Ordinal);

        string anyAim = Fixtures.Resolve(AimFolderList()[0]);
        File.Copy(Path.Combine(anyAim, "pytorch_model.bin"), dir.File("pytorch_model.bin"));
        var folder = ModelFolder.Open(dir.FolderPath);
        Assert.Equal(CheckpointFormat.TorchZip, folder.Format);

        Assert.Throws<DirectoryNotFoundException>(() => ModelFolder.Open(dir.File("absent")));
    }
}

// Holds: checks on the shared aim-tiny fixtures: pytorch_model.bin equals model.safetensors bit for bit
// (plus the tied lm_head.weight sharing the embedding's storage), vq_ckpt.pt["model"] equals
// vq/model.safetensors, and the model-folder helper.
using Aim.Engine.IO;

namespace Aim.Engine.Tests.IO;

public sealed class FixtureCheckpointTests
{
    private const string TiedKey = "lm_head.weight";
    private const string EmbeddingKey = "backbone.embeddings.word_embeddings.weight";

    public static TheoryData<string> AimFolders() => ["a_adaln_single", "b_adaln_group2", "e_pair"];

    [Fact]
    public void FixtureRootExists()
    {
        Assert.True(Directory.Exists(TestFixtures.Root), TestFixtures.Root);
        Assert.True(Directory.Exists(TestFixtures.AimTiny));
    }

    [Theory]
    [MemberData(nameof(AimFolders))]
    public void PytorchBinMatchesSafetensorsBitForBit(string folder)
    {
        string dir = TestFixtures.PathOf("aim-tiny", folder);
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

    [Fact]
    public void VqCheckpointModelKeyMatchesSafetensors()
    {
        string dir = TestFixtures.PathOf("aim-tiny", "vq");
        using var st = CheckpointReader.Load(Path.Combine(dir, "model.safetensors"));
        using var pt = CheckpointReader.Load(Path.Combine(dir, "vq_ckpt.pt"), "model");

        Assert.Equal(st.Keys.Order(StringComparer.Ordinal), pt.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("quantize.codebook_used", pt.Keys);
        foreach (var (name, expected) in st)
        {
            Assert.Equal(expected.DType, pt[name].DType);
            Assert.Equal(expected.Shape.ToArray(), pt[name].Shape.ToArray());
            Assert.True(IOTestUtil.RawBytes(expected).AsSpan().SequenceEqual(IOTestUtil.RawBytes(pt[name])), $"vq: tensor '{name}' differs");
        }
    }

    [Fact]
    public void InputsHoldIntegerAndScalarTensors()
    {
        using var inputs = SafetensorsFile.Load(TestFixtures.PathOf("aim-tiny", "a_adaln_single", "inputs.safetensors"));
        Assert.Equal(Aim.Engine.Tensors.DType.Int64, inputs["train_labels"].DType);
        Assert.Equal([3], inputs["train_labels"].Shape.ToArray());
        Assert.Equal(10, inputs["train_labels"].ToArray<long>()[1]); // row 1 is the null class (num_classes = 10)
        Assert.Equal(new[] { 5f }, inputs["cfg_scale"].ToArray<float>());
    }

    [Fact]
    public void TorchRootKeepsStateDictMetadata()
    {
        using var ckpt = TorchCheckpoint.Open(TestFixtures.PathOf("aim-tiny", "a_adaln_single", "pytorch_model.bin"));
        var root = ckpt.Root.AsDict("root");
        Assert.True(root.Attributes.ContainsKey("_metadata"));
        Assert.IsType<PickleTensor>(root[EmbeddingKey]);
    }

    [Fact]
    public void ModelFolderFindsConfigAndPrefersSafetensors()
    {
        var folder = ModelFolder.Open(TestFixtures.PathOf("aim-tiny", "e_pair"));
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

        File.Copy(TestFixtures.PathOf("aim-tiny", "a_adaln_single", "pytorch_model.bin"), dir.File("pytorch_model.bin"));
        var folder = ModelFolder.Open(dir.FolderPath);
        Assert.Equal(CheckpointFormat.TorchZip, folder.Format);

        Assert.Throws<DirectoryNotFoundException>(() => ModelFolder.Open(dir.File("absent")));
    }
}

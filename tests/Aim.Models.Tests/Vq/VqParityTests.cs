using System.Text.Json.Nodes;
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Xunit.Abstractions;

namespace Aim.Models.Tests.Vq;

/// <summary>
/// Tokenizer parity with the original for every VQ fixture folder (config.json with "codebook_size") and every
/// weight format present: codes exactly equal; latent, quantised latent and decoded pixels within 1e-4 relative.
/// </summary>
public class VqParityTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var folder in Fixtures.ConfigFolders())
        {
            string full = Fixtures.Resolve(folder);
            if (JsonNode.Parse(File.ReadAllText(Path.Combine(full, "config.json"))) is not JsonObject o || !o.ContainsKey("codebook_size")) continue;
            foreach (var weights in VqCheckpoint.WeightFileNames)
                if (File.Exists(Path.Combine(full, weights))) data.Add(folder, weights);
        }
        return data;
    }

    [Fact]
    public void FixturesRootHoldsVqFolders() => Assert.NotEmpty(Cases());

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodeAndDecodeMatchOriginal(string folder, string weights)
    {
        string dir = Fixtures.Resolve(folder);
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        using var model = VqCheckpoint.Load(Path.Combine(dir, weights), out _);
        using var inputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        var latent = model.EncodeLatent(inputs["images"]);
        output.WriteLine($"latent rel-max-err={Compare.Close("latent", expected["latent"], latent, Tolerance):E2}");
        var codes = model.Quantize(latent);
        Assert.Equal(expected["codes"].ToArray<long>(), codes.ToArray<long>());
        var quant = model.CodebookEntry(codes);
        output.WriteLine($"quant rel-max-err={Compare.Close("quant", expected["quant"], quant, Tolerance):E2}");
        var decoded = model.DecodeCodes(expected["codes"]);
        output.WriteLine($"decoded rel-max-err={Compare.Close("decoded", expected["decoded"], decoded, Tolerance):E2}");
    }
}

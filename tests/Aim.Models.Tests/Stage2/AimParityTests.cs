using System.Text.Json.Nodes;
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.IO;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;
using Aim.Models.Checkpoints;
using Aim.Models.Generation;
using Xunit.Abstractions;

namespace Aim.Models.Tests.Stage2;

/// <summary>
/// Golden parity with the original PyTorch code, for every AiM fixture folder under the fixtures root
/// (discovered by content: a config.json with "d_model"), loading the weights from each format present.
/// Tolerance: relative max error ≤ 1e-4 (see <see cref="Compare.RelativeMaxError"/>).
/// </summary>
public class AimParityTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>(folder, weight file) pairs: every AiM fixture folder × every weight format it holds.</summary>
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var folder in Fixtures.ConfigFolders())
        {
            string full = Fixtures.Resolve(folder);
            if (!IsAimFolder(full)) continue;
            foreach (var weights in ModelFolder.WeightFileNames)
                if (File.Exists(Path.Combine(full, weights))) data.Add(folder, weights);
        }
        return data;
    }

    private static bool IsAimFolder(string folder)
        => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))) is JsonObject o && o.ContainsKey("d_model");

    [Fact]
    public void FixturesRootHoldsAimFolders() => Assert.NotEmpty(Cases());

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingForwardMatchesOriginal(string folder, string weights)
        => CheckTraining(Fixtures.Resolve(folder), weights, Report);

    [Theory]
    [MemberData(nameof(Cases))]
    public void TeacherForcedDecodeMatchesOriginal(string folder, string weights)
        => CheckDecode(Fixtures.Resolve(folder), weights, Report);

    [Fact]
    public void AWrongExpectedFileFails()
    {
        // Copy one fixture folder, nudge one expected logit by 1e-3 of the scale, and require both checks to notice.
        var (folder, weights) = ((string)Cases().First()[0], (string)Cases().First()[1]);
        string source = Fixtures.Resolve(folder);
        string temp = Directory.CreateTempSubdirectory("aim-parity-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(temp, Path.GetFileName(f)));
            using (var expected = CheckpointReader.Load(Path.Combine(source, "expected.safetensors")))
            {
                var tensors = expected.ToDictionary(kv => kv.Key, kv => kv.Value);
                foreach (var key in new[] { "train_logits", "decode_logits_cfg" })
                {
                    var values = tensors[key].ToArray<float>();
                    float scale = Math.Max(1, values.Max(Math.Abs));
                    values[values.Length / 2] += 1e-3f * scale;
                    tensors[key] = Tensor.FromArray(values, tensors[key].Shape);
                }
                SafetensorsWriter.Write(Path.Combine(temp, "expected.safetensors"), tensors);
            }
            Assert.Throws<InvalidOperationException>(() => CheckTraining(temp, weights, (_, _) => { }));
            Assert.Throws<InvalidOperationException>(() => CheckDecode(temp, weights, (_, _) => { }));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Training forward logits, final hidden and loss vs expected.safetensors; throws on mismatch.</summary>
    internal static void CheckTraining(string dir, string weights, Action<string, double> report)
    {
        using var scope = TensorScope.Open();
        using var model = AimCheckpoint.Load(Path.Combine(dir, weights), Device.Cpu, out _);
        using var inputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        using var noGrad = Tape.NoGrad();
        var (logits, final) = model.Forward(inputs["train_codes"], inputs["train_labels"]);
        report("train_logits", Compare.Close($"{dir}/{weights} train_logits", expected["train_logits"], logits, Tolerance));
        report("train_final_hidden", Compare.Close($"{dir}/{weights} train_final_hidden", expected["train_final_hidden"], final, Tolerance));
        int b = logits.Shape[0], t = logits.Shape[1], v = logits.Shape[2];
        var loss = Ops.CrossEntropy(Ops.Reshape(logits, b * t, v), Ops.Reshape(inputs["train_codes"], b * t));
        report("train_loss", Compare.Close($"{dir}/{weights} train_loss", expected["train_loss"], loss, Tolerance));
    }

    /// <summary>Teacher-forced decode at the fixture's CFG scale, 1 and 0 vs expected.safetensors; throws on mismatch.</summary>
    internal static void CheckDecode(string dir, string weights, Action<string, double> report)
    {
        using var scope = TensorScope.Open();
        using var model = AimCheckpoint.Load(Path.Combine(dir, weights), Device.Cpu, out _);
        using var inputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        long[] labels = inputs["decode_labels"].ToArray<long>();
        var codes = inputs["decode_codes"];
        double cfg = inputs["cfg_scale"].Item();
        foreach (var (key, scale) in new[] { ("decode_logits_cfg", cfg), ("decode_logits_cond", 1.0), ("decode_logits_uncond", 0.0) })
        {
            var (logits, hidden) = TeacherForced(model, labels, codes, scale);
            report(key, Compare.Close($"{dir}/{weights} {key}", expected[key], logits, Tolerance));
            if (key == "decode_logits_cfg")
                report("decode_final_hidden", Compare.Close($"{dir}/{weights} decode_final_hidden", expected["decode_final_hidden"], hidden, Tolerance));
        }
    }

    /// <summary>Runs the decode loop feeding <paramref name="codes"/> (B, T); returns CFG logits (B, T, V) and final hidden (2B, T, d).</summary>
    internal static (Tensor Logits, Tensor Hidden) TeacherForced(AimModel model, long[] labels, Tensor codes, double cfg)
    {
        int b = labels.Length, t = model.Config.NumTokens, v = model.Config.VocabSize, d = model.Config.DModel;
        long[] forced = codes.ToArray<long>();
        var logits = new float[b * t * v];
        var hidden = new float[2 * b * t * d];
        AimDecoder.Run(model, labels, cfg, Device.Cpu, (step, cfgLogits, final) =>
        {
            for (int i = 0; i < b; i++) Array.Copy(cfgLogits, i * v, logits, ((long)i * t + step) * v, v);
            var h = final.ToArray<float>();
            for (int i = 0; i < 2 * b; i++) Array.Copy(h, i * d, hidden, ((long)i * t + step) * d, d);
            var next = new long[b];
            for (int i = 0; i < b; i++) next[i] = forced[i * t + step];
            return next;
        });
        return (Tensor.FromArray(logits, [b, t, v]), Tensor.FromArray(hidden, [2 * b, t, d]));
    }

    private void Report(string what, double err) => output.WriteLine($"TENSOR OK {what} rel-max-err={err:E2}");
}

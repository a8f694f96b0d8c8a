// Golden-fixture parity on CUDA for the GPU machine: the checks of tests/Aim.Models.Tests (AimParityTests,
// VqParityTests) with the models loaded onto cuda:0 (AimCheckpoint/VqCheckpoint load on the CPU, then
// Module.To moves them) and the inputs moved there too. Every AiM folder (config.json with "d_model") and VQ folder
// (config.json with "codebook_size") under the root given on the command line, times every weight format present.
// Tolerance as on the CPU: relative max error ≤ 1e-4 (Compare.RelativeMaxError), codes exactly equal, float32
// GEMMs with TF32 off. A check that reaches a kernel family CUDA lacks reports "unsupported", not a failure.
// The bf16 decode row runs the decode as the fast path does (UseBFloat16Weights: in_proj, out_proj and the tied
// table in bf16, their matrix inputs rounded to bf16, f32 accumulation, residual stream and state in f32) against
// the same fp32 expectations, with Bf16Tolerance: bf16 keeps 8 significant bits (rounding error ≤ 2^-9 ≈ 2e-3 per
// value); two matrix products per layer each add such an error to the residual stream, so logits drift by about
// 1e-2 of their largest magnitude after a few layers. 5e-2 bounds that while any real fault (a wrong row, a missing
// scale) gives errors near 1.
using System.Text;
using System.Text.Json.Nodes;
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Cuda.Tests;
using Aim.Engine.IO;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Generation;
using Aim.Models.Stage2;

namespace Aim.Cuda.Check;

/// <summary>The fixture checks, one row per (folder, weights, check).</summary>
internal static class FixtureParity
{
    private const double Tolerance = 1e-4;
    private const double Bf16Tolerance = 5e-2;

    /// <summary>Runs every check under <paramref name="root"/> on <paramref name="backend"/>'s device.</summary>
    public static List<CudaCaseResult> Run(CudaBackend backend, string root)
    {
        var rows = new List<CudaCaseResult>();
        bool tf32 = backend.CudaKernels.AllowTf32;
        backend.CudaKernels.AllowTf32 = false;
        try
        {
            var folders = Directory.EnumerateFiles(root, "config.json", SearchOption.AllDirectories)
                .Select(f => Path.GetDirectoryName(f)!).OrderBy(f => f, StringComparer.Ordinal).ToList();
            if (folders.Count == 0) rows.Add(new($"fixtures under {root}", "FAIL", double.NaN, "no folder with a config.json"));
            foreach (string dir in folders)
            {
                string name = Path.GetRelativePath(root, dir);
                var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))) as JsonObject;
                if (config?.ContainsKey("d_model") == true)
                {
                    foreach (string weights in ModelFolder.WeightFileNames.Where(w => File.Exists(Path.Combine(dir, w))))
                    {
                        string path = Path.Combine(dir, weights);
                        rows.Add(Guard($"aim {name}/{weights} Module.To(cuda)", r => CheckMoved(path, backend.Device, r)));
                        rows.Add(Guard($"aim {name}/{weights} training forward", r => CheckTraining(dir, path, backend.Device, r)));
                        rows.Add(Guard($"aim {name}/{weights} teacher-forced decode", r => CheckDecode(dir, path, backend.Device, r)));
                        rows.Add(Guard($"aim {name}/{weights} teacher-forced decode, bf16 weights", r => CheckDecode(dir, path, backend.Device, r, bf16: true)));
                    }
                }
                else if (config?.ContainsKey("codebook_size") == true)
                {
                    foreach (string weights in VqCheckpoint.WeightFileNames.Where(w => File.Exists(Path.Combine(dir, w))))
                    {
                        string path = Path.Combine(dir, weights);
                        rows.Add(Guard($"vq {name}/{weights} quantize(expected latent)", r => CheckQuantize(dir, path, backend.Device, r)));
                        rows.Add(Guard($"vq {name}/{weights} encode", r => CheckEncode(dir, path, backend.Device, r)));
                        rows.Add(Guard($"vq {name}/{weights} decode", r => CheckDecoded(dir, path, backend.Device, r)));
                    }
                }
            }
        }
        finally
        {
            backend.CudaKernels.AllowTf32 = tf32;
        }
        return rows;
    }

    /// <summary>Collects the per-tensor errors of one check.</summary>
    private sealed class Report
    {
        private readonly StringBuilder _detail = new();

        public double Worst { get; private set; }

        public double Limit { get; set; } = Tolerance;

        public void Close(string what, Tensor expected, Tensor actual)
        {
            double err = Compare.Close(what, expected, actual, Limit);
            Worst = Math.Max(Worst, err);
            _detail.Append($"{what}={err:E2} ");
        }

        public void Exact(string what, long[] expected, long[] actual)
        {
            int mismatches = expected.Length != actual.Length ? Math.Max(expected.Length, actual.Length) : expected.Where((v, i) => v != actual[i]).Count();
            if (mismatches > 0) throw new InvalidOperationException($"{what}: {mismatches} of {expected.Length} differ");
            _detail.Append($"{what} exact ");
        }

        public string Detail => _detail.ToString().TrimEnd();
    }

    private static CudaCaseResult Guard(string name, Action<Report> body)
    {
        var report = new Report();
        try
        {
            using var scope = TensorScope.Open();
            using var noGrad = Tape.NoGrad();
            body(report);
            return new(name, "pass", report.Worst, report.Detail);
        }
        catch (NotSupportedException e)
        {
            return new(name, "unsupported", double.NaN, $"{report.Detail} {e.Message}".Trim());
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or InvalidDataException or IOException or Aim.Engine.Cuda.Interop.CudaException)
        {
            return new(name, "FAIL", report.Worst, $"{report.Detail} {e.GetType().Name}: {e.Message}".Trim());
        }
    }

    private static StateDict OnDevice(StateDict host, Device device)
    {
        var moved = new StateDict();
        foreach (var (k, v) in host) moved.Add(k, TensorScope.Detach(v.To(device)));
        return moved;
    }

    /// <summary>Every parameter lives on the device after loading, and equals the CPU load bit for bit.</summary>
    private static void CheckMoved(string weights, Device device, Report report)
    {
        using var onCpu = AimCheckpoint.Load(weights, Device.Cpu, out _);
        using var onGpu = AimCheckpoint.Load(weights, device, out _);
        var cpu = onCpu.NamedParameters().ToList();
        var gpu = onGpu.NamedParameters().ToList();
        for (int i = 0; i < cpu.Count; i++)
        {
            if (gpu[i].Value.Device != device) throw new InvalidOperationException($"{gpu[i].Name} is on {gpu[i].Value.Device}");
            float[] a = cpu[i].Value.ToFloatArray(), b = gpu[i].Value.ToFloatArray();
            if (!a.AsSpan().SequenceEqual(b)) throw new InvalidOperationException($"{gpu[i].Name} differs after the move");
        }
        if (onGpu.WordEmbeddings.Weight.Device != device || onGpu.Layers[0].Mixer.ConvWeight.Device != device)
            throw new InvalidOperationException("a module property still reads a CPU tensor after Module.To");
        report.Exact($"{cpu.Count} parameters", [cpu.Count], [gpu.Count]);
    }

    private static void CheckTraining(string dir, string weights, Device device, Report report)
    {
        using var model = AimCheckpoint.Load(weights, device, out _);
        using var hostInputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var inputs = OnDevice(hostInputs, device);
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        var (logits, final) = model.Forward(inputs["train_codes"], inputs["train_labels"]);
        report.Close("train_logits", expected["train_logits"], logits);
        report.Close("train_final_hidden", expected["train_final_hidden"], final);
        int b = logits.Shape[0], t = logits.Shape[1], v = logits.Shape[2];
        var loss = Ops.CrossEntropy(Ops.Reshape(logits, b * t, v), Ops.Reshape(inputs["train_codes"], b * t));
        report.Close("train_loss", expected["train_loss"], loss);
    }

    private static void CheckDecode(string dir, string weights, Device device, Report report, bool bf16 = false)
    {
        using var model = AimCheckpoint.Load(weights, device, out _);
        if (bf16)
        {
            model.UseBFloat16Weights();
            report.Limit = Bf16Tolerance;
        }
        using var inputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        long[] labels = inputs["decode_labels"].ToArray<long>();
        long[] forced = inputs["decode_codes"].ToArray<long>();
        double cfg = inputs["cfg_scale"].Item();
        foreach (var (key, scale) in new[] { ("decode_logits_cfg", cfg), ("decode_logits_cond", 1.0), ("decode_logits_uncond", 0.0) })
        {
            var (logits, hidden) = TeacherForced(model, labels, forced, scale, device);
            report.Close(key, expected[key], logits);
            if (key == "decode_logits_cfg") report.Close("decode_final_hidden", expected["decode_final_hidden"], hidden);
        }
    }

    /// <summary>The decode loop on <paramref name="device"/> fed the forced codes (B·T); CFG logits (B, T, V) and final hidden (2B, T, d) on the host.</summary>
    private static (Tensor Logits, Tensor Hidden) TeacherForced(AimModel model, long[] labels, long[] forced, double cfg, Device device)
    {
        int b = labels.Length, t = model.Config.NumTokens, v = model.Config.VocabSize, d = model.Config.DModel;
        var logits = new float[b * t * v];
        var hidden = new float[2 * b * t * d];
        AimDecoder.Run(model, labels, cfg, device, (step, cfgLogits, final) =>
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

    /// <summary>The quantizer alone (L2 normalisation + nearest code, no encoder) from the expected latent: codes exactly equal.</summary>
    private static void CheckQuantize(string dir, string weights, Device device, Report report)
    {
        using var model = VqCheckpoint.Load(weights, device, out _);
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        using var latent = expected["latent"].To(device);
        report.Exact("codes", expected["codes"].ToArray<long>(), model.Quantize(latent).ToArray<long>());
    }

    private static void CheckEncode(string dir, string weights, Device device, Report report)
    {
        using var model = VqCheckpoint.Load(weights, device, out _);
        using var inputs = CheckpointReader.Load(Path.Combine(dir, "inputs.safetensors"));
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        using var images = inputs["images"].To(device);
        var latent = model.EncodeLatent(images);
        report.Close("latent", expected["latent"], latent);
        var codes = model.Quantize(latent);
        report.Exact("codes", expected["codes"].ToArray<long>(), codes.ToArray<long>());
        report.Close("quant", expected["quant"], model.CodebookEntry(codes));
    }

    private static void CheckDecoded(string dir, string weights, Device device, Report report)
    {
        using var model = VqCheckpoint.Load(weights, device, out _);
        using var expected = CheckpointReader.Load(Path.Combine(dir, "expected.safetensors"));
        using var codes = expected["codes"].To(device);
        report.Close("decoded", expected["decoded"], model.DecodeCodes(codes));
    }
}

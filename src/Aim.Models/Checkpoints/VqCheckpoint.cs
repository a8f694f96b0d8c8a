using System.Text.Json.Nodes;
using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Vq;

namespace Aim.Models.Checkpoints;

/// <summary>
/// Loads the VQ tokenizer from: a folder (config.json + model.safetensors or a .pt), LlamaGen's release file
/// (torch.save({"model": state_dict})), a bare state_dict file, or an official AiM file holding "vqvae."-prefixed
/// keys. Without a VQ config.json beside the weights, VQ-f16 is assumed. Loading is strict.
/// </summary>
public static class VqCheckpoint
{
    /// <summary>Weight file names looked for in a folder, in order.</summary>
    public static IReadOnlyList<string> WeightFileNames { get; } = ["model.safetensors", "vq_ckpt.pt", "pytorch_model.bin"];

    /// <summary>Loads the tokenizer (float32, CPU). <paramref name="weightsPath"/> says which file was read.</summary>
    public static VqModel Load(string path, out string weightsPath) => Load(path, Device.Cpu, out weightsPath);

    /// <summary>
    /// Loads the tokenizer (float32) on the CPU, then moves it to <paramref name="device"/>.
    /// <paramref name="weightsPath"/> says which file was read.
    /// </summary>
    public static VqModel Load(string path, Device device, out string weightsPath)
    {
        string folder;
        if (Directory.Exists(path))
        {
            folder = path;
            weightsPath = WeightFileNames.Select(n => Path.Combine(path, n)).FirstOrDefault(File.Exists)
                ?? throw new FileNotFoundException($"{path}: no VQ weights (looked for {string.Join(", ", WeightFileNames)})");
        }
        else if (File.Exists(path))
        {
            weightsPath = Path.GetFullPath(path);
            folder = Path.GetDirectoryName(weightsPath) ?? ".";
        }
        else throw new FileNotFoundException($"VQ tokenizer not found: {path}");

        string configPath = Path.Combine(folder, "config.json");
        var config = File.Exists(configPath) && IsVqConfig(configPath) ? VqConfig.FromJson(File.ReadAllText(configPath), configPath) : VqConfig.VqF16;
        using var state = ReadState(weightsPath);
        var model = new VqModel(config);
        try
        {
            model.LoadStateDict(SelectVqKeys(state), weightsPath);
            model.To(device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    private static bool IsVqConfig(string path)
    {
        try { return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && o.ContainsKey("codebook_size"); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
    }

    /// <summary>Reads the file's state dict, unwrapping LlamaGen's {"model": ...}.</summary>
    private static StateDict ReadState(string path)
    {
        if (CheckpointReader.DetectFormat(path) == CheckpointFormat.Safetensors) return SafetensorsFile.Load(path);
        using var ckpt = TorchCheckpoint.Open(path);
        bool wrapped = ckpt.Root is PickleDict d && d.TryGet("model", out var inner) && inner is PickleDict;
        return wrapped ? ckpt.GetStateDict("model") : ckpt.GetStateDict();
    }

    private static Dictionary<string, Tensor> SelectVqKeys(StateDict state)
    {
        bool prefixed = state.Keys.Any(k => k.StartsWith(AimKeyMap.VqPrefix, StringComparison.Ordinal));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in state)
        {
            if (!prefixed) result[k] = v;
            else if (k.StartsWith(AimKeyMap.VqPrefix, StringComparison.Ordinal)) result[k[AimKeyMap.VqPrefix.Length..]] = v;
        }
        return result;
    }
}

using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Models.Checkpoints;

/// <summary>
/// Loads an AiM stage-2 model from a model folder (config.json + model.safetensors or pytorch_model.bin, as the
/// original and the hub write them) or from a single weight file with config.json beside it. Loading is strict:
/// missing, unexpected or mis-shaped tensors are reported by name.
/// </summary>
public static class AimCheckpoint
{
    /// <summary>What was loaded and from where.</summary>
    public sealed record Info(string WeightsPath, CheckpointFormat Format, string ConfigPath, IReadOnlyDictionary<string, DType> SourceDTypes, bool HasVqWeights);

    /// <summary>Loads the model (float32) on the CPU, then moves it to <paramref name="device"/> (<see cref="Aim.Engine.Nn.Module.To"/>).</summary>
    public static AimModel Load(string path, Device device, out Info info)
    {
        string weights, configPath;
        if (Directory.Exists(path))
        {
            var folder = ModelFolder.Open(path);
            weights = folder.WeightsPath;
            configPath = folder.ConfigPath;
        }
        else if (File.Exists(path))
        {
            weights = Path.GetFullPath(path);
            configPath = Path.Combine(Path.GetDirectoryName(weights) ?? ".", "config.json");
            if (!File.Exists(configPath))
                throw new FileNotFoundException($"{path}: no config.json beside the weights (a model folder holds config.json + model.safetensors or pytorch_model.bin)");
        }
        else throw new FileNotFoundException($"model not found: {path}");

        var config = AimConfig.FromJson(File.ReadAllText(configPath), configPath);
        using var state = CheckpointReader.Load(weights);
        var (modelState, vqState) = AimKeyMap.Split(state, weights);
        var model = new AimModel(config);
        try
        {
            model.LoadStateDict(modelState, weights);
            model.To(device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        info = new Info(weights, CheckpointReader.DetectFormat(weights), configPath,
            modelState.ToDictionary(kv => kv.Key, kv => kv.Value.DType), vqState.Count > 0);
        return model;
    }
}

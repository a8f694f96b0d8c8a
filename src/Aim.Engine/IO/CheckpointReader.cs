// Holds: format detection by content (zip magic "PK\x03\x04" = torch.save, u64 length + '{' = safetensors),
// the one-call loader, and the model-folder helper (config.json + model.safetensors or pytorch_model.bin).
using System.Buffers.Binary;

namespace Aim.Engine.IO;

/// <summary>Checkpoint file formats the engine reads.</summary>
public enum CheckpointFormat
{
    /// <summary>huggingface safetensors.</summary>
    Safetensors,

    /// <summary>torch.save zip archive (pytorch_model.bin, *.pt, *.pth).</summary>
    TorchZip,
}

/// <summary>Loads a state_dict from a checkpoint file of either format, chosen by content, not by extension.</summary>
public static class CheckpointReader
{
    /// <summary>Identifies the format of <paramref name="path"/> from its first bytes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Neither format (the message says what the bytes look like).</exception>
    public static CheckpointFormat DetectFormat(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint not found: {path}", path);
        Span<byte> head = stackalloc byte[9];
        int n;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n >= 4 && head[..4].SequenceEqual("PK\x03\x04"u8)) return CheckpointFormat.TorchZip;
        if (n >= 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) < (ulong)new FileInfo(path).Length)
            return CheckpointFormat.Safetensors;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new InvalidDataException($"checkpoint '{path}' is a raw pickle (legacy torch.save before PyTorch 1.6, or a plain pickle): not supported, re-save it with a current torch.save or as safetensors");
        throw new InvalidDataException($"checkpoint '{path}' is neither safetensors nor a torch.save zip (first bytes: {Convert.ToHexString(head)})");
    }

    /// <summary>
    /// Loads the state_dict in <paramref name="path"/>. For a torch.save file, <paramref name="keyPath"/>
    /// selects a nested dict (e.g. "model" for LlamaGen's VQ checkpoints); safetensors files take none.
    /// </summary>
    public static StateDict Load(string path, params string[] keyPath)
    {
        switch (DetectFormat(path))
        {
            case CheckpointFormat.Safetensors:
                if (keyPath.Length > 0)
                    throw new ArgumentException($"CheckpointReader.Load: safetensors file '{path}' is flat, key path '{string.Join("/", keyPath)}' does not apply", nameof(keyPath));
                return SafetensorsFile.Load(path);
            default:
                return TorchCheckpoint.Load(path, keyPath);
        }
    }
}

/// <summary>A model folder: <c>config.json</c> plus weights (<c>model.safetensors</c>, else <c>pytorch_model.bin</c>).</summary>
public sealed class ModelFolder
{
    /// <summary>Weight files looked for, in order of preference.</summary>
    public static IReadOnlyList<string> WeightFileNames { get; } = ["model.safetensors", "pytorch_model.bin"];

    private ModelFolder(string folder, string configPath, string weightsPath, CheckpointFormat format)
    {
        Folder = folder;
        ConfigPath = configPath;
        WeightsPath = weightsPath;
        Format = format;
    }

    /// <summary>The folder.</summary>
    public string Folder { get; }

    /// <summary>Path of config.json.</summary>
    public string ConfigPath { get; }

    /// <summary>Path of the weights file chosen.</summary>
    public string WeightsPath { get; }

    /// <summary>Format of <see cref="WeightsPath"/> (detected by content).</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Locates config.json and the weights in <paramref name="folder"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json or every weight file is missing; the message names the paths tried.</exception>
    public static ModelFolder Open(string folder)
    {
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"model folder not found: {full}");
        string config = Path.Combine(full, "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"model folder '{full}' has no config.json (looked for {config})", config);
        foreach (string name in WeightFileNames)
        {
            string weights = Path.Combine(full, name);
            if (File.Exists(weights)) return new ModelFolder(full, config, weights, CheckpointReader.DetectFormat(weights));
        }
        throw new FileNotFoundException(
            $"model folder '{full}' has no weights (looked for {string.Join(" and ", WeightFileNames.Select(n => Path.Combine(full, n)))})",
            Path.Combine(full, WeightFileNames[0]));
    }

    /// <summary>The text of config.json.</summary>
    public string ReadConfigText() => File.ReadAllText(ConfigPath);

    /// <summary>Loads the weights (see <see cref="CheckpointReader.Load"/> for <paramref name="keyPath"/>).</summary>
    public StateDict LoadWeights(params string[] keyPath) => CheckpointReader.Load(WeightsPath, keyPath);
}

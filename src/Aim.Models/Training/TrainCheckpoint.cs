// Holds: the training checkpoint, one safetensors file "checkpoint.safetensors" with
//   model/NAME (weights), optim/m/NAME and optim/v/NAME (AdamW moments), ema/NAME (EMA weights, when on)
// and string metadata: format "aim-train-ckpt/1", kind (stage2 | vq), step, optimizer_step, data_position,
// rng_seed, rng_position, config (model config JSON), train_config (TrainOptions JSON), data (dataset identity),
// sha256 (over every tensor's name, dtype, shape and bytes in name order, so a flipped or cut byte is caught).
// Written atomically by SafetensorsWriter (temporary file in the folder, then rename).
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Aim.Engine.IO;
using Aim.Engine.Nn;
using Aim.Engine.Optim;
using Aim.Engine.Tensors;

namespace Aim.Models.Training;

/// <summary>Where a run stands: everything besides tensors that an exact resume needs.</summary>
/// <param name="Kind">"stage2" or "vq".</param>
/// <param name="Step">Optimizer updates done.</param>
/// <param name="DataPosition">Samples consumed from the data order.</param>
/// <param name="RngSeed">Seed of the run's generator (label dropout).</param>
/// <param name="RngPosition">Block position of that generator (always at a block boundary when saved).</param>
/// <param name="ConfigJson">Model config JSON.</param>
/// <param name="OptionsJson">Training options JSON.</param>
/// <param name="DataId">Identity of the dataset (sizes), checked on resume.</param>
public sealed record TrainState(string Kind, long Step, long DataPosition, ulong RngSeed, ulong RngPosition, string ConfigJson, string OptionsJson, string DataId);

/// <summary>Writes and restores training checkpoints (format in the file header comment).</summary>
public static class TrainCheckpoint
{
    /// <summary>The format tag in the metadata.</summary>
    public const string Magic = "aim-train-ckpt/1";

    /// <summary>The checkpoint's file name inside a run folder.</summary>
    public const string FileName = "checkpoint.safetensors";

    /// <summary>Writes the checkpoint atomically.</summary>
    public static void Save(string path, TrainState state, Module model, AdamW optimizer, WeightEma? ema)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, p) in model.NamedParameters()) tensors.Add(new("model/" + name, p));
        foreach (var (key, t) in optimizer.StateTensors()) tensors.Add(new("optim/" + key, t));
        if (ema is not null)
            foreach (var (key, t) in ema.Weights()) tensors.Add(new("ema/" + key, t));
        tensors.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var ci = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Magic,
            ["kind"] = state.Kind,
            ["step"] = state.Step.ToString(ci),
            ["optimizer_step"] = optimizer.StepCount.ToString(ci),
            ["data_position"] = state.DataPosition.ToString(ci),
            ["rng_seed"] = state.RngSeed.ToString(ci),
            ["rng_position"] = state.RngPosition.ToString(ci),
            ["config"] = state.ConfigJson,
            ["train_config"] = state.OptionsJson,
            ["data"] = state.DataId,
            ["sha256"] = Hash(tensors),
        };
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        SafetensorsWriter.Write(path, tensors, meta);
    }

    /// <summary>
    /// Checks <paramref name="path"/> against this run (kind, model config, data, batch/accumulation/seed/EMA/precision) and
    /// its integrity (hash), then copies weights, moments and EMA into the live objects. Any problem throws
    /// <see cref="InvalidDataException"/> with one message naming the file and what is wrong; nothing is modified
    /// unless every check passed.
    /// </summary>
    public static TrainState Restore(string path, string kind, string configJson, TrainOptions options, string dataId,
        Module model, AdamW optimizer, WeightEma? ema)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no checkpoint to resume from");
        StateDict state;
        try
        {
            state = SafetensorsFile.Load(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a readable training checkpoint (corrupt or truncated): {e.Message}");
        }
        using (state)
        {
            var meta = state.Metadata;
            string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: not a training checkpoint of this tool (metadata lacks '{key}')");
            if (!meta.TryGetValue("format", out var format) || format != Magic)
                throw new InvalidDataException($"{path}: not a training checkpoint (format '{format ?? "none"}', expected '{Magic}')");
            if (Get("kind") != kind) throw new InvalidDataException($"{path}: is a {Get("kind")} checkpoint, this run trains {kind}");
            if (Get("config") != configJson)
                throw new InvalidDataException($"{path}: was written for another model config; resume with the same --model-config or start a new run folder");
            if (Get("data") != dataId)
                throw new InvalidDataException($"{path}: was trained on other data ({Get("data")}), this run reads {dataId}");
            var stored = TrainOptions.ResumeKeyFromJson(Get("train_config"));
            foreach (var (name, value) in options.ResumeKey())
                if (stored[name] != value)
                    throw new InvalidDataException($"{path}: was written with {name} {stored[name]}, this run asks for {value} (exact resume needs the same value)");
            var sorted = state.Names.OrderBy(n => n, StringComparer.Ordinal).Select(n => new KeyValuePair<string, Tensor>(n, state[n])).ToList();
            if (Hash(sorted) != Get("sha256"))
                throw new InvalidDataException($"{path}: tensor data does not match its checksum (corrupt file)");

            var ci = CultureInfo.InvariantCulture;
            var result = new TrainState(kind, long.Parse(Get("step"), ci), long.Parse(Get("data_position"), ci),
                ulong.Parse(Get("rng_seed"), ci), ulong.Parse(Get("rng_position"), ci), configJson, Get("train_config"), dataId);
            var weights = Section(state, "model/");
            var moments = Section(state, "optim/");
            var shadow = Section(state, "ema/");
            if (ema is null != (shadow.Count == 0))
                throw new InvalidDataException($"{path}: EMA weights are {(shadow.Count == 0 ? "absent" : "present")} but this run has EMA {(ema is null ? "off" : "on")}");
            model.LoadStateDict(weights, path);
            optimizer.LoadState(moments, long.Parse(Get("optimizer_step"), ci), path);
            ema?.Load(shadow, path);
            return result;
        }
    }

    private static Dictionary<string, Tensor> Section(StateDict state, string prefix)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in state)
            if (k.StartsWith(prefix, StringComparison.Ordinal)) d[k[prefix.Length..]] = v;
        return d;
    }

    /// <summary>SHA-256 over name, dtype, shape and row-major bytes of each tensor, in the given order.</summary>
    private static string Hash(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, t) in tensors)
        {
            h.AppendData(Encoding.UTF8.GetBytes($"{name}|{t.DType.ShortName()}|{Tensor.ShapeString(t.Shape)}|"));
            using var host = t.Device.Kind == DeviceKind.Cpu && t.IsContiguous ? null : TensorScope.Detach(t.To(Device.Cpu));
            var src = host ?? t;
            h.AppendData(src.DType switch
            {
                DType.Float32 => MemoryMarshal.AsBytes(src.AsSpan<float>()),
                DType.Float64 => MemoryMarshal.AsBytes(src.AsSpan<double>()),
                DType.Int32 => MemoryMarshal.AsBytes(src.AsSpan<int>()),
                DType.Int64 => MemoryMarshal.AsBytes(src.AsSpan<long>()),
                DType.BFloat16 => MemoryMarshal.AsBytes(src.AsSpan<BFloat16>()),
                _ => throw new NotSupportedException($"checkpoint: tensor '{name}' has dtype {src.DType.ShortName()}"),
            });
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }
}

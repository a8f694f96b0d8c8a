// `aim info`: what a model is. For a folder or weight file: path, file format, config fields, parameter counts by
// module from the file's tensors (tied head counted once), the dtypes stored and whether tokenizer weights are
// inside. For aim-b / aim-l / aim-xl: the built-in config and the counts it implies (spec §1.2), no file needed.
using System.CommandLine;
using System.Globalization;
using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Generation;
using Aim.Models.Stage2;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>info</c> command.</summary>
internal static class InfoCommand
{
    public static Command Create(CliIo io)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A model folder or weight file, or a built-in shape: aim-b, aim-l, aim-xl.",
            Required = true,
        };
        var command = new Command("info", "Show a model's configuration, parameter counts by module, stored dtypes and file format.");
        command.Options.Add(model);
        command.SetAction(parse => Run(io, parse.GetValue(model)!));
        return command;
    }

    private static int Run(CliIo io, string model)
    {
        var ci = CultureInfo.InvariantCulture;
        var builtIn = Directory.Exists(model) || File.Exists(model) ? null : AimConfig.BuiltIn(model);
        if (builtIn is not null)
        {
            var counts = AimParameterCounts.FromConfig(builtIn);
            io.Console.Write(Header([("model", $"{model.ToLowerInvariant()} (built-in configuration, no weights)")]));
            io.Console.Write(ConfigTable(builtIn));
            io.Console.Write(CountsTable(counts, "from config"));
            return 0;
        }
        if (!Directory.Exists(model) && !File.Exists(model))
            throw new FileNotFoundException($"--model: '{model}' is neither an existing folder or file nor one of aim-b, aim-l, aim-xl");

        var (weights, configPath) = Locate(model);
        var config = AimConfig.FromJson(File.ReadAllText(configPath), configPath);
        var format = CheckpointReader.DetectFormat(weights);
        using var state = CheckpointReader.Load(weights);
        var (modelState, vqState) = AimKeyMap.Split(state, weights);
        var fileCounts = AimParameterCounts.FromNamed(modelState.Select(kv => (kv.Key, kv.Value.Count)));
        var configCounts = AimParameterCounts.FromConfig(config);
        var dtypes = modelState.Values.GroupBy(t => t.DType).OrderBy(g => g.Key)
            .Select(g => string.Create(ci, $"{g.Key.ShortName()} ({g.Count()} tensors, {g.Sum(t => t.Count):N0} values)"));
        var names = ClassNames.ForModel(model, config.NumClasses);
        bool headStored = state.Keys.Any(k => k == AimModel.TiedHeadKey || k == AimKeyMap.MambaPrefix + AimModel.TiedHeadKey);
        var rows = new List<(string, string)>
        {
            ("path", Path.GetFullPath(weights)),
            ("config", Path.GetFullPath(configPath)),
            ("format", format == CheckpointFormat.Safetensors ? "safetensors" : "torch.save zip (pytorch_model.bin / .pt)"),
            ("dtypes", string.Join(", ", dtypes)),
            ("tensors", string.Create(ci, $"{modelState.Count} stage-2{(headStored ? " (the tied lm_head.weight is stored too and counted once)" : "")}")),
            ("tokenizer", vqState.Count > 0 ? string.Create(ci, $"{vqState.Count} vqvae.* tensors in the same file") : "none in the file (pass --vq to generate)"),
            ("classes", names.HasNames ? $"{config.NumClasses} named ({names.Source})" : $"{config.NumClasses} (numbers only)"),
        };
        io.Console.Write(Header(rows));
        io.Console.Write(ConfigTable(config));
        io.Console.Write(CountsTable(fileCounts, "from the file"));
        if (fileCounts != configCounts)
            io.Out.WriteLine(string.Create(ci, $"note: the file's tensors ({fileCounts.Total:N0}) differ from what config.json implies ({configCounts.Total:N0}); loading will fail"));
        return 0;
    }

    /// <summary>(weights, config.json) for a folder or a weight file, as AimCheckpoint.Load finds them.</summary>
    private static (string Weights, string Config) Locate(string path)
    {
        if (Directory.Exists(path))
        {
            var folder = ModelFolder.Open(path);
            return (folder.WeightsPath, folder.ConfigPath);
        }
        string weights = Path.GetFullPath(path);
        string config = Path.Combine(Path.GetDirectoryName(weights) ?? ".", "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"{path}: no config.json beside the weights (a model folder holds config.json + model.safetensors or pytorch_model.bin)");
        return (weights, config);
    }

    private static Grid Header(IEnumerable<(string Key, string Value)> rows)
    {
        var grid = new Grid().AddColumn().AddColumn();
        foreach (var (k, v) in rows) grid.AddRow(new Text(k), new Text(v));
        return grid;
    }

    private static Table ConfigTable(AimConfig c)
    {
        var ci = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("config field", "value");
        table.Columns[1].RightAligned();
        void Row(string k, object v) => table.AddRow(k, Convert.ToString(v, ci) ?? "");
        Row("d_model", c.DModel);
        Row("n_layer", c.NLayer);
        Row("d_intermediate", c.DIntermediate);
        Row("vocab_size", c.VocabSize);
        Row("num_classes", c.NumClasses);
        Row("num_tokens", c.NumTokens);
        Row("adaln_group", c.AdalnGroup ? "true" : "false");
        Row("num_groups", c.NumGroups);
        Row("token_drop", c.TokenDrop);
        Row("ssm_cfg.d_state", c.Ssm.DState);
        Row("ssm_cfg.d_conv", c.Ssm.DConv);
        Row("ssm_cfg.expand", c.Ssm.Expand);
        Row("ssm_cfg.headdim", c.Ssm.HeadDim);
        Row("ssm_cfg.ngroups", c.Ssm.NGroups);
        Row("ssm_cfg.chunk_size", c.Ssm.ChunkSize);
        Row("(derived) d_inner", c.DInner);
        Row("(derived) heads", c.NHeads);
        Row("(derived) in_proj rows", c.InProjDim);
        Row("(derived) conv channels", c.ConvDim);
        return table;
    }

    private static Table CountsTable(AimParameterCounts counts, string source)
    {
        var ci = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns($"parameters ({source})", "count", "share");
        table.Columns[1].RightAligned();
        table.Columns[2].RightAligned();
        void Row(string k, long v) => table.AddRow(k, v.ToString("N0", ci), counts.Total == 0 ? "-" : (100.0 * v / counts.Total).ToString("F1", ci) + "%");
        Row("embeddings (token + position; tied head once)", counts.Embeddings);
        Row("class table (+ null class)", counts.ClassTable);
        Row("adaLN", counts.AdaLn);
        Row("layers (norm + Mamba-2 mixer)", counts.Layers);
        Row("final layer (norm_f + final adaLN)", counts.FinalLayer);
        Row("total", counts.Total);
        return table;
    }
}

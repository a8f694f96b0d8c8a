// `aim generate`: class-conditional sampling (spec §6) with a loaded AiM model and VQ tokenizer, written as PNG
// (one image, a grid, or one file per image in a folder). Every argument is checked, and the model/tokenizer pair
// is checked for agreement, before any output file is created; files are written atomically.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Aim.Engine.Autograd;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Generation;
using Aim.Models.Images;
using Aim.Models.Stage2;
using Aim.Models.Vq;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>generate</c> command.</summary>
internal static class GenerateCommand
{
    /// <summary>Images per run above which the command refuses (memory and time guard against typos).</summary>
    private const int MaxImages = 4096;

    public static Command Create(CliIo io)
    {
        var model = new Option<string?>("--model", "-m") { Description = "AiM model: a folder (config.json + model.safetensors or pytorch_model.bin) or a weight file with config.json beside it." };
        var vq = new Option<string?>("--vq") { Description = "VQ tokenizer: a folder or weight file (default: the vqvae.* weights inside the model file, when present)." };
        var classes = new Option<string[]>("--class", "-c")
        {
            Description = "Class number or name; repeat or separate with commas for several (default: random classes from the seed).",
            AllowMultipleArgumentsPerToken = false,
        };
        var count = new Option<int>("--count", "-n") { Description = "Images per class (or in total without --class).", DefaultValueFactory = _ => 1 };
        var cfg = new Option<double>("--cfg") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => 5.0 };
        var temperature = new Option<double>("--temperature") { Description = "Logit temperature (1 reproduces the original, which ignores it).", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0: all).", DefaultValueFactory = _ => 600 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus mass in (0, 1] (1: off).", DefaultValueFactory = _ => 0.98 };
        var positions = new Option<string?>("--positions")
        {
            Description = "Position rows while decoding: step-offset (the original's inference: token j at row j+1) or training (token j at row j). Default: what the model's config.json says (step-offset for official weights).",
        };
        positions.AcceptOnlyFromAmong("step-offset", "training");
        var seed = new Option<ulong?>("--seed") { Description = "Random seed (default: a fresh one, printed so the run can be repeated)." };
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N].", DefaultValueFactory = _ => "cpu" };
        var output = new Option<string>("--output", "-o")
        {
            Description = "A .png file (one image, or a grid of all images) or a folder (one <index>-<class>.png per image).",
            DefaultValueFactory = _ => "samples.png",
        };
        var command = new Command("generate", "Generate class-conditional images and write them as PNG.");
        foreach (var o in new Option[] { model, vq, classes, count, cfg, temperature, topK, topP, positions, seed, device, output }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var request = new Request(
                parse.GetValue(model), parse.GetValue(vq), parse.GetValue(classes) ?? [], parse.GetValue(count),
                new SamplingOptions
                {
                    CfgScale = parse.GetValue(cfg),
                    Temperature = parse.GetValue(temperature),
                    TopK = parse.GetValue(topK),
                    TopP = parse.GetValue(topP),
                    Positions = parse.GetValue(positions) switch
                    {
                        "step-offset" => DecodePositions.StepOffset,
                        "training" => DecodePositions.Training,
                        _ => null,
                    },
                },
                parse.GetValue(seed), parse.GetValue(device)!, parse.GetValue(output)!);
            return Run(io, request);
        });
        return command;
    }

    private sealed record Request(string? Model, string? Vq, string[] Classes, int Count, SamplingOptions Sampling, ulong? Seed, string Device, string Output);

    /// <summary>Where the images go: one file (single image or grid) or a folder of files.</summary>
    private sealed record OutputTarget(string Path, bool IsFolder);

    private static int Run(CliIo io, Request r)
    {
        // 1. Arguments that need no file.
        if (r.Count < 1) throw new ArgumentException($"--count must be at least 1, got {r.Count}");
        try { r.Sampling.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"--{e.Message}", e); }
        var device = DeviceOption.Resolve(r.Device, io.Err);
        var target = CheckOutput(r.Output);
        if (r.Model is null)
        {
            if (r.Vq is not null) throw new ArgumentException("--vq without --model: pass the AiM model too, or neither for the built-in Fashion-MNIST pair");
            r = r with { Model = DefaultModel.AimFolder, Vq = DefaultModel.VqFolder };
        }
        if (!Directory.Exists(r.Model) && !File.Exists(r.Model)) throw new FileNotFoundException($"--model: not found: {r.Model}");
        if (r.Vq is not null && !Directory.Exists(r.Vq) && !File.Exists(r.Vq)) throw new FileNotFoundException($"--vq: not found: {r.Vq}");
        var classTexts = r.Classes.SelectMany(c => c.Split(',', StringSplitOptions.TrimEntries)).ToList();
        if (classTexts.Any(c => c.Length == 0)) throw new ArgumentException("--class: empty class name in the list");
        long requested = (long)Math.Max(1, classTexts.Count) * r.Count;
        if (requested > MaxImages) throw new ArgumentException($"{requested} images requested; at most {MaxImages} per run");

        // 2. Load and check the pair.
        using var aim = AimCheckpoint.Load(r.Model, device, out var info);
        using var tokenizer = LoadTokenizer(r.Vq, info);
        CheckPair(aim.Config, tokenizer.Config, r.Model, r.Vq ?? info.WeightsPath);
        var names = ClassNames.ForModel(r.Model, aim.Config.NumClasses);

        // 3. Labels: the given classes, each Count times, or Count random classes.
        ulong seed = r.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        var rng = new Rng(seed);
        var classRng = rng.Fork(1);
        var labels = new List<long>();
        if (classTexts.Count > 0)
        {
            foreach (var text in classTexts)
            {
                int id = names.Resolve(text);
                for (int i = 0; i < r.Count; i++) labels.Add(id);
            }
        }
        else
        {
            for (int i = 0; i < r.Count; i++) labels.Add(classRng.NextInt(aim.Config.NumClasses));
        }

        // 4. Sample tokens, then decode them.
        var labelArray = labels.ToArray();
        long[][] tokens = [];
        IReadOnlyList<byte[]> rgb = [];
        double tokensPerSecond = 0;
        int steps = aim.Config.NumTokens;
        io.Console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var sampling = ctx.AddTask("sampling", maxValue: steps);
                var clock = Stopwatch.StartNew();
                tokens = AimDecoder.Generate(aim, labelArray, r.Sampling, rng, device, step =>
                {
                    tokensPerSecond = step * (double)labelArray.Length / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                    sampling.Description = string.Create(CultureInfo.InvariantCulture, $"sampling {labelArray.Length} image(s), {tokensPerSecond:F1} tokens/s");
                    sampling.Value = step;
                });
                sampling.StopTask();
                var decoding = ctx.AddTask($"decoding {labelArray.Length} image(s)", maxValue: labelArray.Length);
                rgb = Decode(tokenizer, tokens, () => decoding.Increment(1));
                decoding.StopTask();
            });

        // 5. Write.
        int size = tokenizer.Config.ImageSize;
        var written = Write(target, rgb, size, labelArray, names);
        string classList = string.Join(", ", labelArray.Distinct().Select(l => names.Describe((int)l)));
        io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {written} ({labelArray.Length} image(s) of {size}x{size}; classes {classList}; seed {seed}; cfg {r.Sampling.CfgScale}, top-k {r.Sampling.TopK}, top-p {r.Sampling.TopP}, temperature {r.Sampling.Temperature}; {tokensPerSecond:F1} tokens/s)"));
        return 0;
    }

    /// <summary>Validates --output without creating anything.</summary>
    private static OutputTarget CheckOutput(string output)
    {
        if (string.IsNullOrWhiteSpace(output)) throw new ArgumentException("--output: empty path");
        string full = Path.GetFullPath(output);
        if (Directory.Exists(full)) return new OutputTarget(full, true);
        string parent = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"--output: folder does not exist: {parent}");
        string extension = Path.GetExtension(full);
        if (extension.Equals(".png", StringComparison.OrdinalIgnoreCase)) return new OutputTarget(full, false);
        if (File.Exists(full)) throw new ArgumentException($"--output: '{output}' is an existing file that is not a .png (give a .png path or a folder)");
        if (extension.Length > 0) throw new ArgumentException($"--output: '{extension}' files are not supported (give a .png path or a folder)");
        return new OutputTarget(full, true);
    }

    private static VqModel LoadTokenizer(string? vq, AimCheckpoint.Info info)
    {
        if (vq is not null) return VqCheckpoint.Load(vq, out _);
        if (info.HasVqWeights) return VqCheckpoint.Load(info.WeightsPath, out _);
        throw new ArgumentException($"no VQ tokenizer: {info.WeightsPath} holds no vqvae.* weights, pass --vq <VQ tokenizer folder or file>");
    }

    /// <summary>The model's vocabulary and token count must be the tokenizer's codebook and latent grid.</summary>
    internal static void CheckPair(AimConfig model, VqConfig vq, string modelPath, string vqPath)
    {
        int grid = vq.LatentSize * vq.LatentSize;
        if (model.VocabSize != vq.CodebookSize)
            throw new ArgumentException($"model and VQ tokenizer do not match: {modelPath} has vocab_size {model.VocabSize}, {vqPath} has codebook_size {vq.CodebookSize}");
        if (model.NumTokens != grid)
            throw new ArgumentException($"model and VQ tokenizer do not match: {modelPath} has num_tokens {model.NumTokens}, {vqPath} has a {vq.LatentSize}x{vq.LatentSize} = {grid} latent grid");
    }

    /// <summary>Decodes each image's tokens (T) to RGB bytes, one image at a time to bound memory.</summary>
    private static byte[][] Decode(VqModel tokenizer, long[][] tokens, Action progress)
    {
        using var noGrad = Tape.NoGrad();
        var result = new byte[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            using var scope = TensorScope.Open();
            var codes = Tensor.FromArray(tokens[i], [1, tokens[i].Length]);       // (1, h·w)
            var images = tokenizer.DecodeCodes(codes);                           // (1, 3, H, W)
            result[i] = PngWriter.ToRgb(images)[0];
            progress();
        }
        return result;
    }

    private static string Write(OutputTarget target, IReadOnlyList<byte[]> rgb, int size, long[] labels, ClassNames names)
    {
        if (!target.IsFolder)
        {
            PngWriter.WriteGrid(rgb, size, size, target.Path);
            return target.Path;
        }
        Directory.CreateDirectory(target.Path);
        int digits = Math.Max(1, (rgb.Count - 1).ToString(CultureInfo.InvariantCulture).Length);
        for (int i = 0; i < rgb.Count; i++)
        {
            string name = $"{i.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0')}-{Slug(names.Name((int)labels[i]))}.png";
            PngWriter.WriteAtomic(Path.Combine(target.Path, name), PngWriter.EncodePng(rgb[i], size, size));
        }
        return $"{rgb.Count} file(s) in {target.Path}";
    }

    /// <summary>A file-name-safe form of a class name: letters and digits kept, runs of anything else become '_'.</summary>
    private static string Slug(string name)
    {
        var chars = new System.Text.StringBuilder();
        foreach (char ch in name)
        {
            if (char.IsAsciiLetterOrDigit(ch)) chars.Append(ch);
            else if (chars.Length > 0 && chars[^1] != '_') chars.Append('_');
        }
        return chars.ToString().TrimEnd('_') is { Length: > 0 } s ? s : "class";
    }
}

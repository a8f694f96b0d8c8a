// `aim eval-generate`: class-conditional accuracy of generated samples. Trains a small probe classifier on held-out
// real images (--data) as the tokenizer reconstructs them (so it knows the decoder's look), checks it on other real images (--check), generates --per-class images of every class with
// the model pair (the built-in one by default) and reports the share the probe labels as the requested class.
using System.CommandLine;
using System.Globalization;
using Aim.Engine.Autograd;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Data;
using Aim.Models.Evaluation;
using Aim.Models.Generation;
using Aim.Models.Images;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>eval-generate</c> command.</summary>
internal static class EvalGenerateCommand
{
    public static Command Create(CliIo io)
    {
        var data = new Option<string>("--data") { Description = $"Held-out real images to train the probe on: {DatasetFactory.SpecHelp}.", Required = true };
        var check = new Option<string?>("--check") { Description = "Other real images to report the probe's own accuracy on (optional)." };
        var model = new Option<string?>("--model") { Description = "AiM model (default: the built-in Fashion-MNIST pair)." };
        var vq = new Option<string?>("--vq") { Description = "VQ tokenizer (default: the built-in pair's)." };
        var perClass = new Option<int>("--per-class") { Description = "Generated images per class.", DefaultValueFactory = _ => 100 };
        var epochs = new Option<int>("--epochs") { Description = "Probe training passes over --data.", DefaultValueFactory = _ => 10 };
        var cfg = new Option<double>("--cfg") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => 5.0 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the probe and the sampler.", DefaultValueFactory = _ => 0 };
        var grid = new Option<string?>("--grid") { Description = "Also write the first 10 samples of every class as a PNG grid (one row per class)." };
        var command = new Command("eval-generate", "Class-conditional accuracy of generated images, judged by a probe classifier trained on held-out real images.");
        foreach (var o in new Option[] { data, check, model, vq, perClass, epochs, cfg, seed, grid }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int n = parse.GetValue(perClass), e = parse.GetValue(epochs);
            if (n < 1 || e < 1) throw new ArgumentException("eval-generate: --per-class and --epochs must be at least 1");
            string? modelPath = parse.GetValue(model), vqPath = parse.GetValue(vq);
            if ((modelPath is null) != (vqPath is null)) throw new ArgumentException("eval-generate: pass both --model and --vq, or neither for the built-in pair");
            modelPath ??= DefaultModel.AimFolder;
            vqPath ??= DefaultModel.VqFolder;
            var realData = DatasetFactory.Open(parse.GetValue(data)!);
            void Log(string m) => io.Console.MarkupLine(Markup.Escape(m));
            using var aim = AimCheckpoint.Load(modelPath, Device.Cpu, out _);
            using var tokenizer = VqCheckpoint.Load(vqPath, out _);
            Log($"reconstructing {realData.Count} held-out images through the tokenizer...");
            var probeData = new ReconstructedDataset(realData, tokenizer);
            Log($"training the probe on them ({e} epochs)...");
            using var probe = ClassProbe.Train(probeData, e, parse.GetValue(seed), Log);
            var ci = CultureInfo.InvariantCulture;
            if (parse.GetValue(check) is { } checkSpec)
                Log(string.Create(ci, $"probe accuracy on real images ({checkSpec}, 2000 spread over the set): {100 * probe.Accuracy(DatasetFactory.Open(checkSpec), 2000):F1}%"));
            int classes = aim.Config.NumClasses;
            if (classes != realData.ClassNames.Count) throw new ArgumentException($"eval-generate: the model has {classes} classes, the data {realData.ClassNames.Count}");
            var labels = new long[classes * n];
            for (int c = 0; c < classes; c++) for (int i = 0; i < n; i++) labels[c * n + i] = c;
            var options = new SamplingOptions { CfgScale = parse.GetValue(cfg) };
            Log($"generating {labels.Length} images (cfg {options.CfgScale}, top-k {options.TopK}, top-p {options.TopP})...");
            var tokens = AimDecoder.Generate(aim, labels, options, new Rng(parse.GetValue(seed) + 1), Device.Cpu);
            var correct = new int[classes];
            using (var scope = TensorScope.Open())
            using (Tape.NoGrad())
            {
                var codes = Tensor.FromArray(tokens.SelectMany(t => t).ToArray(), [labels.Length, aim.Config.NumTokens]);
                var images = tokenizer.DecodeCodes(codes);
                var predicted = probe.Predict(images);
                for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) correct[labels[i]]++;
                if (parse.GetValue(grid) is { } gridPath)
                {
                    var rows = Enumerable.Range(0, classes).SelectMany(c => Enumerable.Range(0, Math.Min(10, n)).Select(i => c * n + i)).ToArray();
                    var rgb = PngWriter.ToRgb(images);
                    PngWriter.WriteGrid(rows.Select(r => rgb[r]).ToList(), images.Shape[3], images.Shape[2], gridPath);
                    Log($"wrote {gridPath}");
                }
            }
            var table = new Table().AddColumns("class", "name", "accuracy");
            for (int c = 0; c < classes; c++)
                table.AddRow(c.ToString(ci), realData.ClassNames[c], string.Create(ci, $"{100.0 * correct[c] / n:F1}%"));
            table.AddRow("all", "", string.Create(ci, $"{100.0 * correct.Sum() / labels.Length:F1}%"));
            io.Console.Write(table);
            return 0;
        });
        return command;
    }
}

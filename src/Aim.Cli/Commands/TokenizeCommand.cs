// `aim tokenize --vq VQ --data SPEC --out DIR`: pre-tokenizes a dataset with the VQ into token shards
// (src/Aim.Models/Data/README.md), with a progress bar. The output folder appears only when everything succeeded.
using System.CommandLine;
using System.Globalization;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Data;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>tokenize</c> command.</summary>
internal static class TokenizeCommand
{
    public static Command Create(CliIo io)
    {
        var vq = new Option<string>("--vq") { Description = "VQ tokenizer: a folder (config.json + weights) or a weight file (LlamaGen vq_ds16_c2i.pt, AiM checkpoint).", Required = true };
        var data = new Option<string>("--data") { Description = $"Dataset: {DatasetFactory.SpecHelp}.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder for the shards and tokens.json (must not exist).", Required = true };
        var shardSize = new Option<int>("--shard-size") { Description = "Images per shard.", DefaultValueFactory = _ => 4096 };
        var batch = new Option<int>("--batch") { Description = "Images per VQ encoder call.", DefaultValueFactory = _ => 32 };
        var device = new Option<string>("--device") { Description = "Device for the VQ encoder (cpu).", DefaultValueFactory = _ => "cpu" };
        var command = new Command("tokenize", "Encode every image of a dataset with the VQ into token shards for training.");
        foreach (var o in new Option[] { vq, data, output, shardSize, batch, device }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var dev = Device.Parse(parse.GetValue(device)!);
            if (dev.Kind != DeviceKind.Cpu) throw new NotSupportedException($"tokenize: --device {dev} is not available yet (the VQ encoder runs on the CPU)");
            int shards = parse.GetValue(shardSize), batchSize = parse.GetValue(batch);
            if (shards < 1) throw new ArgumentException($"tokenize: --shard-size must be at least 1, got {shards}");
            if (batchSize < 1) throw new ArgumentException($"tokenize: --batch must be at least 1, got {batchSize}");
            string spec = parse.GetValue(data)!, outDir = parse.GetValue(output)!, vqPath = parse.GetValue(vq)!;
            if (Directory.Exists(outDir) || File.Exists(outDir)) throw new IOException($"tokenize: output {Path.GetFullPath(outDir)} already exists (remove it or choose another --out)");
            var dataset = DatasetFactory.Open(spec);
            using var model = VqCheckpoint.Load(vqPath, out string weights);
            var ci = CultureInfo.InvariantCulture;
            string source = $"data={spec}; vq={weights}";
            TokenShardSet? result = null;
            var started = DateTime.UtcNow;
            io.Console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(string.Create(ci, $"tokenizing {dataset.Count} images")), maxValue: dataset.Count);
                    result = DatasetTokenizer.Run(model, dataset, outDir, shards, batchSize, source, done => task.Value = done);
                });
            double seconds = (DateTime.UtcNow - started).TotalSeconds;
            io.Console.MarkupLine(Markup.Escape(string.Create(ci,
                $"wrote {result!.Count} images ({result.Metadata.Grid}x{result.Metadata.Grid} codes, vocab {result.Metadata.VocabSize}, {result.Metadata.NumClasses} classes) in {result.Shards.Count} shard(s) to {result.Folder} in {seconds:F1} s ({result.Count / Math.Max(seconds, 1e-9):F1} images/s)")));
            return 0;
        });
        return command;
    }
}

// `aim bench vq`: VQ tokenizer encode/decode time per image (Aim.Bench.VqBench), for a loaded tokenizer or VQ-f16
// with random weights, as a table or one JSON object.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aim.Bench;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Vq;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>bench vq</c> subcommand.</summary>
internal static class BenchVqCommand
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create(CliIo io)
    {
        var vq = new Option<string?>("--vq") { Description = "VQ tokenizer folder or file (default: VQ-f16 at 256x256 with random weights)." };
        var batch = new Option<int>("--batch") { Description = "Images per encode/decode call.", DefaultValueFactory = _ => 1 };
        var repeats = new Option<int>("--repeats") { Description = "Timed calls per direction after one warm-up (median reported).", DefaultValueFactory = _ => 3 };
        var device = new Option<string>("--device") { Description = "cpu (the tokenizer runs on the CPU).", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("vq", "VQ tokenizer encode and decode time per image.");
        foreach (var o in new Option[] { vq, batch, repeats, device, json }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int b = parse.GetValue(batch), n = parse.GetValue(repeats);
            if (b < 1) throw new ArgumentException($"bench vq: --batch must be at least 1, got {b}");
            if (n < 1) throw new ArgumentException($"bench vq: --repeats must be at least 1, got {n}");
            var dev = DeviceOption.Resolve(parse.GetValue(device)!, io.Err);
            if (dev.Kind != DeviceKind.Cpu) throw new NotSupportedException($"bench vq: --device {dev} is not supported yet (the tokenizer runs on the CPU)");
            string? path = parse.GetValue(vq);
            bool asJson = parse.GetValue(json);
            string name = path is null ? "VQ-f16 (random weights)" : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
            if (!asJson) io.Console.MarkupLine(Markup.Escape(path is null ? $"building {name}..." : $"loading {Path.GetFullPath(path)}..."));
            using var model = path is null ? VqBench.RandomModel(VqConfig.VqF16) : VqCheckpoint.Load(path, out _);
            var r = VqBench.Run(name, model, b, n, dev, CpuParallel.MaxThreads);
            if (asJson)
            {
                io.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "vq",
                    tokenizer = r.Tokenizer,
                    device = r.Device,
                    batch = r.Batch,
                    image_size = r.ImageSize,
                    latent_size = r.LatentSize,
                    threads = r.Threads,
                    repeats = r.Repeats,
                    encode_ms_per_image = Math.Round(r.EncodeMsPerImage, 3),
                    decode_ms_per_image = Math.Round(r.DecodeMsPerImage, 3),
                }, s_json));
                return 0;
            }
            var ci = CultureInfo.InvariantCulture;
            var table = new Table().AddColumns("tokenizer", "image", "latent", "batch", "threads", "encode ms/image", "decode ms/image");
            for (int i = 1; i < table.Columns.Count; i++) table.Columns[i].RightAligned();
            table.AddRow(Markup.Escape(r.Tokenizer), $"{r.ImageSize}x{r.ImageSize}", $"{r.LatentSize}x{r.LatentSize}", r.Batch.ToString(ci), r.Threads.ToString(ci),
                r.EncodeMsPerImage.ToString("F2", ci), r.DecodeMsPerImage.ToString("F2", ci));
            io.Console.Write(table);
            return 0;
        });
        return command;
    }
}

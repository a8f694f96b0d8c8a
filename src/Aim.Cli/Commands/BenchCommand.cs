// `aim bench ...`: performance measurements. `aim bench gemm` prints the CPU GEMM table (or JSON lines);
// `aim bench generate` times the decode loop; `aim bench vq` (BenchVqCommand.cs) times the tokenizer.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Aim.Bench;
using Spectre.Console;

namespace Aim.Cli.Commands;

/// <summary>The <c>bench</c> command and its subcommands.</summary>
internal static class BenchCommand
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create(CliIo io)
    {
        var bench = new Command("bench", "Measure kernel and model performance.");
        bench.Subcommands.Add(CreateGemm(io));
        bench.Subcommands.Add(CreateGenerate(io));
        bench.Subcommands.Add(BenchVqCommand.Create(io));
        bench.Subcommands.Add(CreateTrain(io));
        return bench;
    }

    private static Command CreateGemm(CliIo io)
    {
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for the CPU kernels (default: all processors, or AIM_THREADS).",
            DefaultValueFactory = _ => Aim.Engine.Backends.Cpu.CpuParallel.MaxThreads,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line instead of a table." };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Time budget per shape after warm-up, in seconds (median of at least 3 calls).",
            DefaultValueFactory = _ => 0.5,
        };
        var gemm = new Command("gemm", "Float32 GEMM GFLOP/s at square sizes and AiM-B decode shapes, with roofline floors.");
        gemm.Options.Add(threads);
        gemm.Options.Add(json);
        gemm.Options.Add(seconds);
        gemm.SetAction(parse =>
        {
            var options = new GemmBenchOptions(parse.GetValue(threads), parse.GetValue(seconds));
            if (options.Threads < 1) throw new ArgumentException($"bench gemm: --threads must be at least 1, got {options.Threads}");
            if (!(options.Seconds > 0)) throw new ArgumentException($"bench gemm: --seconds must be positive, got {options.Seconds}");
            var roofline = Roofline.Measure(options.Threads);
            if (parse.GetValue(json)) PrintJson(io, options, roofline);
            else PrintTable(io, options, roofline);
            return 0;
        });
        return gemm;
    }

    private static void PrintJson(CliIo io, GemmBenchOptions options, Roofline roofline)
    {
        foreach (var r in GemmBench.Run(options, roofline))
            io.Out.WriteLine(JsonSerializer.Serialize(new
            {
                op = r.Op,
                m = r.M,
                n = r.N,
                k = r.K,
                threads = r.Threads,
                ms = Math.Round(r.Ms, 4),
                gflops = Math.Round(r.Gflops, 2),
                floor_ms = Math.Round(r.FloorMs, 4),
                trans_b = r.TransB,
                cpu_ms = Math.Round(r.CpuMs, 4),
            }, s_json));
    }

    private static void PrintTable(CliIo io, GemmBenchOptions options, Roofline roofline)
    {
        var ci = CultureInfo.InvariantCulture;
        io.Console.MarkupLine(Markup.Escape(string.Create(ci,
            $"CPU SGEMM, micro-tile {GemmBench.MicroTile}, {options.Threads} thread(s); roofline from measured peak {roofline.PeakGflops:F0} GFLOP/s (FMA loop) and bandwidth {roofline.BandwidthGBs:F1} GB/s (512 MiB streaming read); floor = max(FLOPs/peak, bytes/bandwidth), bytes = 4(MK + KN + MN). Square: A(M,K)·B(K,N); in_proj/out_proj/head: x(M,K)·W(N,K)ᵀ.")));
        var table = new Table().AddColumns("op", "m", "n", "k", "threads", "ms", "GFLOP/s", "floor ms", "floor/time");
        for (int i = 1; i < table.Columns.Count; i++) table.Columns[i].RightAligned();
        foreach (var r in GemmBench.Run(options, roofline))
        {
            table.AddRow(
                r.Op, r.M.ToString(ci), r.N.ToString(ci), r.K.ToString(ci), r.Threads.ToString(ci),
                r.Ms.ToString("F3", ci), r.Gflops.ToString("F1", ci), r.FloorMs.ToString("F3", ci),
                (100 * r.FloorMs / r.Ms).ToString("F0", ci) + "%");
        }
        io.Console.Write(table);
    }

    private static Command CreateGenerate(CliIo io)
    {
        var model = new Option<string>("--model") { Description = "Official shape to build with random weights: aim-b, aim-l or aim-xl.", DefaultValueFactory = _ => "aim-b" };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        var batches = new Option<string?>("--batch") { Description = "Comma-separated image batch sizes (CFG doubles the rows). Default: 1,8 on the CPU, 1,16,64,256 on a GPU." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line instead of a table." };
        var profile = new Option<bool>("--profile") { Description = "Also print time per kernel. The profiled batches decode eagerly (no recorded step graph) with every kernel synchronised on a GPU, so their step times are not the decode speed." };
        var weights = new Option<string>("--weights") { Description = "Weight storage for the per-step matrices: f32 or bf16 (math stays f32).", DefaultValueFactory = _ => "f32" };
        var command = new Command("generate", "Decode-step time and seconds per image for AiM at official shapes (random weights), next to the weight-bandwidth floor.");
        command.Options.Add(model);
        command.Options.Add(device);
        command.Options.Add(batches);
        command.Options.Add(json);
        command.Options.Add(profile);
        command.Options.Add(weights);
        command.SetAction(parse =>
        {
            string name = parse.GetValue(model)!;
            var config = Aim.Models.Stage2.AimConfig.BuiltIn(name) ?? throw new ArgumentException($"bench generate: unknown model '{name}' (expected aim-b, aim-l or aim-xl)");
            var dev = DeviceOption.Resolve(parse.GetValue(device)!, io.Err);
            var sizes = ParseBatches(parse.GetValue(batches) ?? (dev.Kind == Aim.Engine.Tensors.DeviceKind.Cpu ? "1,8" : "1,16,64,256"));
            bool bf16 = ParseWeights(parse.GetValue(weights)!);
            var roofline = dev.Kind == Aim.Engine.Tensors.DeviceKind.Cpu
                ? Roofline.Measure(Aim.Engine.Backends.Cpu.CpuParallel.MaxThreads)
                : DeviceRoofline.Measure(dev, bf16 ? Aim.Engine.Tensors.DType.BFloat16 : Aim.Engine.Tensors.DType.Float32);
            bool asJson = parse.GetValue(json);
            var ci = CultureInfo.InvariantCulture;
            string math = dev.Kind == Aim.Engine.Tensors.DeviceKind.Cpu ? $"{roofline.Threads} thread(s)" : bf16 ? "bf16 weights and matrix inputs, f32 state" : "f32, TF32 off";
            if (!asJson)
                io.Console.MarkupLine(Markup.Escape(string.Create(ci,
                    $"{name} decode on {dev}, {math}, cfg 5 / top-k 600 / top-p 0.98, full 256-step loop. Floor = max((weights + SSM/conv state read and written) per step / {roofline.BandwidthGBs:F1} GB/s measured bandwidth, FLOPs / {roofline.PeakGflops:F0} GFLOP/s measured {(bf16 ? "bf16" : "f32")} peak).")));
            var table = new Table().AddColumns("model", "batch", "rows", "ms/step", "replay ms/step", "floor ms/step", "floor/replay", "s per batch", "img/s", "weight MB/step", "peak MB");
            for (int i = 1; i < table.Columns.Count; i++) table.Columns[i].RightAligned();
            foreach (var r in GenerateBench.Run(name, config, sizes, dev, roofline, asJson ? null : m => io.Console.MarkupLine(Markup.Escape(m)), parse.GetValue(profile), bf16))
            {
                if (asJson)
                    io.Out.WriteLine(JsonSerializer.Serialize(new
                    {
                        bench = "generate",
                        model = r.Model,
                        device = r.Device,
                        batch = r.Batch,
                        rows = r.Rows,
                        threads = r.Threads,
                        ms_per_step = Math.Round(r.MsPerStep, 3),
                        floor_ms_per_step = Math.Round(r.FloorMsPerStep, 3),
                        seconds_per_batch = Math.Round(r.SecondsPerImageBatch, 3),
                        images_per_second = Math.Round(r.ImagesPerSecond, 4),
                        weight_mb_per_step = Math.Round(r.WeightMegabytesPerStep, 1),
                        peak_device_mb = Math.Round(r.PeakDeviceMegabytes),
                        first_call_ms = Math.Round(r.FirstCallMs),
                        replay_ms_per_step = Math.Round(r.ReplayMsPerStep, 3),
                        record_ms = Math.Round(r.RecordMs, 1),
                    }, s_json));
                else
                    table.AddRow(r.Model, r.Batch.ToString(ci), r.Rows.ToString(ci), r.MsPerStep.ToString("F2", ci), r.ReplayMsPerStep.ToString("F2", ci),
                        r.FloorMsPerStep.ToString("F2", ci), (100 * r.FloorMsPerStep / r.ReplayMsPerStep).ToString("F0", ci) + "%", r.SecondsPerImageBatch.ToString("F2", ci),
                        r.ImagesPerSecond.ToString("F3", ci), r.WeightMegabytesPerStep.ToString("F0", ci), r.PeakDeviceMegabytes.ToString("F0", ci));
            }
            if (!asJson) io.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static int[] ParseBatches(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] < 1)
                throw new ArgumentException($"--batch: '{parts[i]}' is not a positive integer");
        return sizes.Length > 0 ? sizes : throw new ArgumentException("--batch: no batch sizes given");
    }

    private static bool ParseWeights(string text) => text switch
    {
        "f32" => false,
        "bf16" => true,
        _ => throw new ArgumentException($"--weights: '{text}' is not f32 or bf16"),
    };

    private static Command CreateTrain(CliIo io)
    {
        var model = new Option<string>("--model") { Description = "aim-b, aim-l or aim-xl (official shapes), or a config.json / a folder holding one; random weights either way.", DefaultValueFactory = _ => "aim-b" };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        var batch = new Option<int>("--batch") { Description = "Images per step (num_tokens tokens each; 256 at the official shapes).", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up step.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print JSON (one object per line) instead of tables." };
        var profile = new Option<bool>("--profile")
        {
            Description = $"After the timed steps, run one more step with every kernel timed and print the {ProfileTop} longest kernels (calls, ms, bytes, GB/s, "
                + "bandwidth and FLOP floors). On a GPU each kernel is synchronised before and after, so that step is slower than the timed ones; its split is for attribution.",
        };
        var tf32 = DeviceOption.Tf32Option();
        var precision = new Option<string>("--precision") { Description = "fp32, or bf16 (matrix products in bf16 with float32 accumulation, as `aim train --precision bf16`).", DefaultValueFactory = _ => "fp32" };
        var command = new Command("train", "Stage-2 training tokens/s (random weights and codes): forward, cross-entropy, backward, AdamW.");
        command.Options.Add(model);
        command.Options.Add(device);
        command.Options.Add(batch);
        command.Options.Add(steps);
        command.Options.Add(json);
        command.Options.Add(profile);
        command.Options.Add(tf32);
        command.Options.Add(precision);
        command.SetAction(parse =>
        {
            string name = parse.GetValue(model)!;
            string prec = parse.GetValue(precision)!;
            var products = prec switch
            {
                "fp32" => Aim.Engine.Tensors.DType.Float32,
                "bf16" => Aim.Engine.Tensors.DType.BFloat16,
                _ => throw new ArgumentException($"bench train: --precision must be fp32 or bf16, got '{prec}'"),
            };
            var config = TrainConfig(name);
            var dev = DeviceOption.Resolve(parse.GetValue(device)!, io.Err, parse.GetValue(tf32));
            int b = parse.GetValue(batch), n = parse.GetValue(steps);
            if (b < 1 || n < 1) throw new ArgumentException("bench train: --batch and --steps must be at least 1");
            // The FLOP floor uses the peak of the type the matrix products run in (bf16 under --precision bf16).
            var roofline = dev.Kind == Aim.Engine.Tensors.DeviceKind.Cpu ? Roofline.Measure(Aim.Engine.Backends.Cpu.CpuParallel.MaxThreads) : DeviceRoofline.Measure(dev, products);
            bool asJson = parse.GetValue(json);
            var r = TrainBench.Run(name, config, b, n, dev, roofline, asJson ? null : (Action<string>)(m => io.Console.MarkupLine(Markup.Escape(m))), products, parse.GetValue(profile));
            var ci = CultureInfo.InvariantCulture;
            if (asJson)
            {
                io.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "train",
                    model = r.Model,
                    device = r.Device,
                    precision = prec,
                    batch = r.Batch,
                    tokens = r.Tokens,
                    ms_per_step = Math.Round(r.MsPerStep, 2),
                    tokens_per_second = Math.Round(r.TokensPerSecond),
                    floor_ms_per_step = Math.Round(r.FloorMsPerStep, 2),
                    peak_device_mb = Math.Round(r.PeakDeviceMegabytes),
                    state_mb = Math.Round(r.StateMegabytes),
                    loss = Math.Round(r.Loss, 4),
                }, s_json));
                if (r.Profile is not null) PrintProfileJson(io, r.Profile, roofline, r.ProfiledStepMs);
                return 0;
            }
            var table = new Table().AddColumns("model", "device", "batch", "ms/step", "tokens/s", "floor ms/step (6·params·tokens / peak)", "floor/ms",
                "peak device MB", "weights+grads+AdamW MB");
            table.AddRow(r.Model, prec == "fp32" ? r.Device : r.Device + " " + prec, r.Batch.ToString(ci), r.MsPerStep.ToString("F1", ci), r.TokensPerSecond.ToString("F0", ci),
                r.FloorMsPerStep.ToString("F1", ci), (100 * r.FloorMsPerStep / r.MsPerStep).ToString("F0", ci) + "%",
                r.PeakDeviceMegabytes > 0 ? r.PeakDeviceMegabytes.ToString("F0", ci) : "-", r.StateMegabytes.ToString("F0", ci));
            io.Console.Write(table);
            if (r.Profile is not null) PrintProfileTable(io, r.Profile, roofline, r.ProfiledStepMs);
            return 0;
        });
        return command;
    }

    /// <summary>Rows of the kernel profile tables (the rest and the total follow).</summary>
    private const int ProfileTop = 40;

    /// <summary>A built-in name, a config.json, or a folder holding one.</summary>
    private static Aim.Models.Stage2.AimConfig TrainConfig(string name)
    {
        var builtIn = Aim.Models.Stage2.AimConfig.BuiltIn(name);
        if (builtIn is not null) return builtIn;
        string path = Directory.Exists(name) ? Path.Combine(name, "config.json") : name;
        if (!File.Exists(path))
            throw new ArgumentException($"bench train: unknown model '{name}' (expected aim-b, aim-l, aim-xl, a config.json or a folder holding one)");
        return Aim.Models.Stage2.AimConfig.FromJson(File.ReadAllText(path), path).Validate();
    }

    private static void PrintProfileTable(CliIo io, KernelProfile profile, Roofline roofline, double stepMs)
    {
        var ci = CultureInfo.InvariantCulture;
        io.Console.MarkupLine(Markup.Escape(string.Create(ci,
            $"Kernel profile of one step on {profile.Device}: step {stepMs:F1} ms wall with every kernel synchronised (kernels {profile.Total.Ms:F1} ms; the rest is host work between kernels). "
            + $"Bytes = tensors each call spans (inputs + outputs); bw floor = bytes / {roofline.BandwidthGBs:F1} GB/s measured; FLOP floor = Gemm FLOPs / {roofline.PeakGflops:F0} GFLOP/s measured.")));
        var table = new Table().AddColumns("kernel", "calls", "ms", "%", "ms/call", "MB/call", "GB/s", "bw floor ms", "GFLOP/s", "FLOP floor ms");
        for (int i = 1; i < table.Columns.Count; i++) table.Columns[i].RightAligned();
        double total = profile.Total.Ms;
        foreach (var s in profile.Rows(ProfileTop))
        {
            bool gemm = s.Flops > 0;
            table.AddRow(s.Name, s.Calls.ToString(ci), s.Ms.ToString("F3", ci), (total > 0 ? 100 * s.Ms / total : 0).ToString("F1", ci), s.MsPerCall.ToString("F4", ci),
                (s.BytesPerCall / 1e6).ToString("F3", ci), s.GBs.ToString("F1", ci), s.BandwidthFloorMs(roofline).ToString("F3", ci),
                gemm ? s.Gflops.ToString("F0", ci) : "", gemm ? s.FlopFloorMs(roofline).ToString("F3", ci) : "");
        }
        io.Console.Write(table);
    }

    private static void PrintProfileJson(CliIo io, KernelProfile profile, Roofline roofline, double stepMs)
    {
        double total = profile.Total.Ms;
        foreach (var s in profile.Rows(ProfileTop))
            io.Out.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "train_profile",
                device = profile.Device.ToString(),
                kernel = s.Name,
                calls = s.Calls,
                ms = Math.Round(s.Ms, 4),
                percent = Math.Round(total > 0 ? 100 * s.Ms / total : 0, 2),
                ms_per_call = Math.Round(s.MsPerCall, 5),
                bytes_per_call = Math.Round(s.BytesPerCall),
                gb_per_s = Math.Round(s.GBs, 2),
                bandwidth_floor_ms = Math.Round(s.BandwidthFloorMs(roofline), 4),
                flops = s.Flops,
                flop_floor_ms = Math.Round(s.FlopFloorMs(roofline), 4),
                profiled_step_ms = Math.Round(stepMs, 2),
            }, s_json));
    }
}

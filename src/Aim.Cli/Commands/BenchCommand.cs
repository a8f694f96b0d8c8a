// `aim bench ...`: performance measurements. `aim bench gemm` prints the CPU GEMM table (or JSON lines).
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

    public static Command Create()
    {
        var bench = new Command("bench", "Measure kernel and model performance.");
        bench.Subcommands.Add(CreateGemm());
        return bench;
    }

    private static Command CreateGemm()
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
            if (parse.GetValue(json)) PrintJson(options, roofline);
            else PrintTable(options, roofline);
            return 0;
        });
        return gemm;
    }

    private static void PrintJson(GemmBenchOptions options, Roofline roofline)
    {
        foreach (var r in GemmBench.Run(options, roofline))
            Console.WriteLine(JsonSerializer.Serialize(new
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

    private static void PrintTable(GemmBenchOptions options, Roofline roofline)
    {
        var ci = CultureInfo.InvariantCulture;
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160; // Spectre assumes 80 columns without a terminal
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(ci,
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
        AnsiConsole.Write(table);
    }
}

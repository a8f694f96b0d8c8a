// `aim train` (stage 2 on token shards), `aim train-vq` (tokenizer on an image dataset) and `aim eval-vq`
// (reconstruction MSE/PSNR and codebook usage). Training writes RUN_DIR/checkpoint.safetensors every --save-every
// updates, on Ctrl+C and at the end, then the loadable model folder RUN_DIR/model (config.json + model.safetensors).
// Progress is one line per --log-every updates: step, loss, lr, gradient norm, tokens/s or images/s. --device cuda
// moves the model to the GPU after initialising it on the CPU (same initial weights as a CPU run).
using System.CommandLine;
using System.Globalization;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Data;
using Aim.Models.Stage2;
using Aim.Models.Training;
using Aim.Models.Vq;

namespace Aim.Cli.Commands;

/// <summary>The training and tokenizer-evaluation commands.</summary>
internal static class TrainCommand
{
    private static readonly CultureInfo s_ci = CultureInfo.InvariantCulture;

    /// <summary>Options both training commands take.</summary>
    private sealed class Common
    {
        public Option<string> Data { get; } = new("--data") { Required = true };
        public Option<string> Out { get; } = new("--out") { Description = "Run folder: checkpoint.safetensors and, at the end, model/.", Required = true };
        public Option<long> Steps { get; } = new("--steps") { Description = "Optimizer updates in the run.", DefaultValueFactory = _ => 1000 };
        public Option<int> Batch { get; } = new("--batch") { Description = "Samples per micro-batch.", DefaultValueFactory = _ => 8 };
        public Option<double> Lr { get; } = new("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-4 };
        public Option<long> Warmup { get; } = new("--warmup") { Description = "Linear warm-up updates.", DefaultValueFactory = _ => 0 };
        public Option<string> Schedule { get; } = new("--schedule") { Description = "linear (to 0), cosine (to --min-lr) or constant.", DefaultValueFactory = _ => "linear" };
        public Option<double> MinLr { get; } = new("--min-lr") { Description = "Floor of the cosine schedule.", DefaultValueFactory = _ => 0 };
        public Option<double> Clip { get; } = new("--clip") { Description = "Global gradient-norm limit (0: off).", DefaultValueFactory = _ => 1.0 };
        public Option<double> Wd { get; } = new("--wd") { Description = "AdamW weight decay on matrices (tensors with >= 2 dims).", DefaultValueFactory = _ => 0.05 };
        public Option<int> Accum { get; } = new("--accum") { Description = "Micro-batches per update (gradient accumulation).", DefaultValueFactory = _ => 1 };
        public Option<double> Ema { get; } = new("--ema") { Description = "EMA decay of the weights, e.g. 0.9999 (0: off); model/ then holds the EMA weights.", DefaultValueFactory = _ => 0 };
        public Option<long> SaveEvery { get; } = new("--save-every") { Description = "Checkpoint every N updates (0: only at the end).", DefaultValueFactory = _ => 500 };
        public Option<bool> Resume { get; } = new("--resume") { Description = "Continue from RUN_DIR/checkpoint.safetensors." };
        public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of initial weights, data order and label dropout.", DefaultValueFactory = _ => 0 };
        public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        public Option<bool> Tf32 { get; } = DeviceOption.Tf32Option();
        public Option<int> LogEvery { get; } = new("--log-every") { Description = "Print a progress line every N updates.", DefaultValueFactory = _ => 10 };
        public Option<string> Precision { get; } = new("--precision") { Description = "fp32, or bf16: matrix products in bf16 with float32 accumulation; weights, optimizer, norms, SSM scan and loss stay float32.", DefaultValueFactory = _ => TrainOptions.Fp32 };

        public void AddTo(Command c)
        {
            foreach (Option o in new Option[] { Data, Out, Steps, Batch, Lr, Warmup, Schedule, MinLr, Clip, Wd, Accum, Ema, SaveEvery, Resume, Seed, Device, Tf32, LogEvery, Precision })
                c.Options.Add(o);
        }

        public TrainOptions Read(ParseResult p) => new TrainOptions
        {
            Steps = p.GetValue(Steps), Batch = p.GetValue(Batch), Lr = p.GetValue(Lr), Warmup = p.GetValue(Warmup),
            Schedule = LrSchedule.ParseKind(p.GetValue(Schedule)!), MinLr = p.GetValue(MinLr), Clip = p.GetValue(Clip),
            WeightDecay = p.GetValue(Wd), Accum = p.GetValue(Accum), Ema = p.GetValue(Ema), SaveEvery = p.GetValue(SaveEvery), Seed = p.GetValue(Seed),
            Precision = p.GetValue(Precision)!,
        }.Validate();
    }

    public static IEnumerable<Command> Create(CliIo io) => [CreateTrain(io), CreateTrainVq(io), CreateEvalVq(io)];

    private static Command CreateTrain(CliIo io)
    {
        var common = new Common();
        common.Data.Description = "Folder of token shards (shard-*.safetensors written by `aim tokenize`).";
        var config = new Option<string>("--model-config") { Description = "aim-b, aim-l, aim-xl, tiny, or a config.json path (vocabulary, classes and tokens come from the data for named configs).", DefaultValueFactory = _ => "aim-b" };
        var command = new Command("train", "Train AiM stage 2 on pre-tokenized images (AdamW, label dropout 0.1, cross-entropy over all tokens).");
        common.AddTo(command);
        command.Options.Add(config);
        command.SetAction(p =>
        {
            var options = common.Read(p);
            var device = DeviceOption.Resolve(p.GetValue(common.Device)!, io.Err, p.GetValue(common.Tf32));
            var data = TokenShardReader.Open(p.GetValue(common.Data)!);
            var cfg = TrainPresets.Stage2(p.GetValue(config)!, data);
            using var model = new AimModel(cfg);
            model.InitializeRandom(new Rng(options.Seed));
            model.To(device);
            using var trainer = new Stage2Trainer(model, data, options, p.GetValue(common.Out)!);
            io.Out.WriteLine(string.Create(s_ci, $"train: {data.Count} images × {data.Tokens} tokens from {data.Folder}; model d={cfg.DModel} L={cfg.NLayer} ({model.ParameterCount():N0} parameters); batch {options.Batch}×{options.Accum}, {options.Steps} steps, {options.Precision}"));
            return RunTrainer(io, trainer, p.GetValue(common.Resume), p.GetValue(common.LogEvery), "tok/s");
        });
        return command;
    }

    private static Command CreateTrainVq(CliIo io)
    {
        var common = new Common();
        common.Data.Description = "Dataset spec: fashion-mnist:DIR, an image folder, ... (Aim.Models.Data.DatasetFactory), or synthetic:COUNT:SIZE.";
        var config = new Option<string>("--model-config") { Description = "vq-f16, tiny (f4, 1024 codes, image size of the data) or a config.json path.", DefaultValueFactory = _ => "tiny" };
        var beta = new Option<double>("--beta") { Description = "Commitment loss weight.", DefaultValueFactory = _ => 0.25 };
        var edge = new Option<double>("--edge-weight") { Description = "Weight of the image-gradient (Charbonnier) sharpness loss; 0: off.", DefaultValueFactory = _ => 0 };
        var command = new Command("train-vq", "Train the VQ tokenizer: L2 reconstruction + codebook + commitment (beta) losses, straight-through, l2-normalised codes.");
        common.AddTo(command);
        command.Options.Add(config);
        command.Options.Add(beta);
        command.Options.Add(edge);
        command.SetAction(p =>
        {
            var options = common.Read(p);
            var device = DeviceOption.Resolve(p.GetValue(common.Device)!, io.Err, p.GetValue(common.Tf32));
            var data = OpenDataset(p.GetValue(common.Data)!);
            var cfg = TrainPresets.Vq(p.GetValue(config)!, data.ImageSize);
            using var model = new VqModel(cfg);
            VqTrainer.InitializeRandom(model, new Rng(options.Seed));
            model.To(device);
            using var trainer = new VqTrainer(model, data, options, p.GetValue(common.Out)!) { Beta = p.GetValue(beta), EdgeWeight = p.GetValue(edge) };
            io.Out.WriteLine(string.Create(s_ci, $"train-vq: {data.Count} images {data.Channels}x{data.ImageSize}x{data.ImageSize}; codebook {cfg.CodebookSize}x{cfg.EmbedDim}, grid {cfg.LatentSize}x{cfg.LatentSize} ({model.ParameterCount():N0} parameters); batch {options.Batch}×{options.Accum}, {options.Steps} steps"));
            return RunTrainer(io, trainer, p.GetValue(common.Resume), p.GetValue(common.LogEvery), "img/s");
        });
        return command;
    }

    private static Command CreateEvalVq(CliIo io)
    {
        var vq = new Option<string>("--vq") { Description = "VQ folder (config.json + model.safetensors) or weight file.", Required = true };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        var data = new Option<string>("--data") { Description = "Dataset spec (as for train-vq).", Required = true };
        var limit = new Option<int>("--limit") { Description = "Evaluate only the first N images (0: all).", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Images per batch.", DefaultValueFactory = _ => 16 };
        var command = new Command("eval-vq", "Tokenizer reconstruction MSE / PSNR (on [0,1] pixels, reconstruction clamped) and codebook usage (% codes used, perplexity).");
        foreach (var o in new Option[] { vq, data, limit, batch, device }) command.Options.Add(o);
        command.SetAction(p =>
        {
            var dev = DeviceOption.Resolve(p.GetValue(device)!, io.Err);
            using var model = VqCheckpoint.Load(p.GetValue(vq)!, out var weights);
            model.To(dev);
            var dataset = OpenDataset(p.GetValue(data)!);
            var m = VqEvaluator.Evaluate(model, dataset, p.GetValue(batch), p.GetValue(limit));
            io.Out.WriteLine(string.Create(s_ci, $"eval-vq: {weights}: {m.Images} images  mse {m.Mse:E4}  psnr {m.Psnr:F2} dB  codes used {m.CodesUsed}/{m.CodebookSize} ({m.UsagePercent:F1}%)  perplexity {m.Perplexity:F1}"));
            return 0;
        });
        return command;
    }

    private static int RunTrainer(CliIo io, TrainerBase trainer, bool resume, int logEvery, string rateUnit)
    {
        if (logEvery < 1) throw new ArgumentException($"--log-every must be at least 1, got {logEvery}");
        if (resume)
        {
            long step = trainer.Resume();
            io.Out.WriteLine(string.Create(s_ci, $"resumed from {trainer.CheckpointPath} at step {step}"));
        }
        else if (File.Exists(trainer.CheckpointPath))
            throw new ArgumentException($"{trainer.CheckpointPath} exists: pass --resume to continue that run, or choose another --out");
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
            io.Err.WriteLine("aim: stopping after this step and writing the checkpoint (Ctrl+C again to abort)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            trainer.Progress = pr =>
            {
                if (pr.Step % logEvery != 0 && pr.Step != pr.TotalSteps) return;
                string parts = string.Join("", pr.Parts.Where(kv => kv.Key != "dropped").Select(kv => string.Create(s_ci, $"  {kv.Key} {kv.Value:G4}")));
                io.Out.WriteLine(string.Create(s_ci, $"step {pr.Step}/{pr.TotalSteps}  loss {pr.Loss:F4}  lr {pr.Lr:0.00e+0}  grad {pr.GradNorm:F3}  {rateUnit} {pr.ItemsPerSecond:F0}{parts}"));
            };
            var result = trainer.Run(cts.Token);
            if (!result.Completed)
            {
                io.Out.WriteLine(string.Create(s_ci, $"interrupted at step {result.FinalStep}; checkpoint {trainer.CheckpointPath} (continue with --resume)"));
                return 130;
            }
            io.Out.WriteLine(string.Create(s_ci, $"done: {result.FinalStep} steps, last loss {result.LastLoss:F4}; checkpoint {trainer.CheckpointPath}; model {trainer.ModelDir}"));
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>An image dataset from a spec: "synthetic:COUNT:SIZE" (smoke tests) or anything <see cref="DatasetFactory.Open"/> accepts.</summary>
    private static IImageDataset OpenDataset(string spec) => SyntheticImageDataset.TryParse(spec) ?? DatasetFactory.Open(spec);
}

// Holds: the settings of a training run shared by both stages (spec §7.1 for the defaults: AdamW β 0.9/0.95,
// wd 0.05 on matrices, lr 1e-4, linear schedule, clip 1.0, no accumulation), the precision of the matrix products
// (fp32, or bf16 through Aim.Engine.Autograd.Autocast with float32 master weights) and their JSON form kept in checkpoints.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aim.Engine.Optim;
using Aim.Engine.Tensors;

namespace Aim.Models.Training;

/// <summary>Settings of one training run.</summary>
public sealed record TrainOptions
{
    /// <summary>Optimizer updates in the whole run.</summary>
    public long Steps { get; init; } = 1000;
    /// <summary>Samples per micro-batch.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Micro-batches whose gradients are summed (and averaged) per update.</summary>
    public int Accum { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 1e-4;
    /// <summary>Warm-up updates.</summary>
    public long Warmup { get; init; }
    /// <summary>Decay after warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Linear;
    /// <summary>Floor of the cosine schedule.</summary>
    public double MinLr { get; init; }
    /// <summary>Global gradient-norm limit (≤ 0: off).</summary>
    public double Clip { get; init; } = 1.0;
    /// <summary>Decoupled weight decay on tensors with ≥ 2 dimensions.</summary>
    public double WeightDecay { get; init; } = 0.05;
    /// <summary>EMA decay of the weights (0: no EMA).</summary>
    public double Ema { get; init; }
    /// <summary>Write the checkpoint every this many updates (0: only at the end).</summary>
    public long SaveEvery { get; init; } = 500;
    /// <summary>Seed of the data order, label dropout and initial weights.</summary>
    public ulong Seed { get; init; }
    /// <summary>
    /// Precision of the matrix products: "fp32" (default) or "bf16" (bf16 products with float32 accumulation under
    /// an autocast scope; weights, optimizer state, residual stream, norms, SSM scan and loss stay float32).
    /// </summary>
    public string Precision { get; init; } = Fp32;

    /// <summary>The default <see cref="Precision"/>: everything in float32.</summary>
    public const string Fp32 = "fp32";
    /// <summary>The mixed <see cref="Precision"/>: matrix products in bf16, float32 master weights.</summary>
    public const string Bf16 = "bf16";

    /// <summary>The dtype the float32 matrix products run in (the argument of <c>Autocast.Enable</c>).</summary>
    public DType ProductDType => Precision == Bf16 ? DType.BFloat16 : DType.Float32;

    /// <summary>The learning-rate schedule of this run.</summary>
    public LrSchedule LrSchedule => new LrSchedule(Lr, Warmup, Steps, Schedule, MinLr).Validate();

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public TrainOptions Validate()
    {
        if (Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {Steps}");
        if (Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {Batch}");
        if (Accum < 1) throw new ArgumentException($"--accum must be at least 1, got {Accum}");
        if (Warmup < 0) throw new ArgumentException($"--warmup must be non-negative, got {Warmup}");
        if (!(Ema >= 0 && Ema < 1)) throw new ArgumentException($"--ema must lie in [0, 1), got {Ema}");
        if (SaveEvery < 0) throw new ArgumentException($"--save-every must be non-negative, got {SaveEvery}");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"--wd must be non-negative, got {WeightDecay}");
        if (Precision is not (Fp32 or Bf16)) throw new ArgumentException($"--precision must be fp32 or bf16, got '{Precision}'");
        _ = LrSchedule;
        return this;
    }

    /// <summary>The settings as JSON (stored in checkpoints).</summary>
    public string ToJson() => new JsonObject
    {
        ["steps"] = Steps,
        ["batch"] = Batch,
        ["accum"] = Accum,
        ["lr"] = Lr,
        ["warmup"] = Warmup,
        ["schedule"] = Schedule.ToString().ToLowerInvariant(),
        ["min_lr"] = MinLr,
        ["clip"] = Clip,
        ["weight_decay"] = WeightDecay,
        ["ema"] = Ema,
        ["save_every"] = SaveEvery,
        ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
        ["precision"] = Precision,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });

    /// <summary>
    /// The settings an exact resume depends on that cannot change mid-run (batch, accumulation, seed, EMA on/off, precision),
    /// as (name, value) pairs; the schedule and step count may change on resume.
    /// </summary>
    internal IEnumerable<(string Name, string Value)> ResumeKey()
    {
        var ci = CultureInfo.InvariantCulture;
        yield return ("--batch", Batch.ToString(ci));
        yield return ("--accum", Accum.ToString(ci));
        yield return ("--seed", Seed.ToString(ci));
        yield return ("--ema", Ema > 0 ? "on" : "off");
        yield return ("--precision", Precision);
    }

    /// <summary>Reads <see cref="ResumeKey"/> values back from a stored <see cref="ToJson"/> text.</summary>
    internal static Dictionary<string, string> ResumeKeyFromJson(string json)
    {
        var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("train_config is not a JSON object");
        string Get(string k) => o[k]?.ToString() ?? throw new InvalidDataException($"train_config lacks '{k}'");
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--batch"] = Get("batch"),
            ["--accum"] = Get("accum"),
            ["--seed"] = Get("seed"),
            ["--ema"] = double.Parse(Get("ema"), CultureInfo.InvariantCulture) > 0 ? "on" : "off",
            // Checkpoints written before the option existed trained in float32.
            ["--precision"] = o["precision"]?.ToString() ?? Fp32,
        };
    }
}

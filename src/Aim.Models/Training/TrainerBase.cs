// Holds: the training loop both stages share: schedule, micro-batches with gradient accumulation, global-norm
// clipping, AdamW, optional weight EMA, progress reports, periodic atomic checkpoints, exact resume and the final
// loadable model folder. Determinism: the data order is a function of (seed, position), the run's generator is
// re-based to a block boundary after every update (so its saved position is its whole state), and the CPU kernels
// chunk work by problem size only, so an interrupted and resumed run reproduces the uninterrupted one bit for bit.
using System.Diagnostics;
using Aim.Engine.Nn;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Models.Training;

/// <summary>One progress report, after an optimizer update.</summary>
/// <param name="Step">Updates done.</param>
/// <param name="TotalSteps">Updates in the run.</param>
/// <param name="Loss">Mean loss over the update's micro-batches.</param>
/// <param name="Lr">Learning rate used.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="ItemsPerSecond">Tokens/s (stage 2) or images/s (VQ) over this update.</param>
/// <param name="ItemName">"tokens" or "images".</param>
/// <param name="Parts">Loss components and other per-step numbers (name → value).</param>
public sealed record TrainProgress(long Step, long TotalSteps, double Loss, double Lr, double GradNorm, double ItemsPerSecond, string ItemName, IReadOnlyDictionary<string, double> Parts);

/// <summary>What a call to <see cref="TrainerBase.Run"/> did.</summary>
/// <param name="StepsRun">Updates done in this call.</param>
/// <param name="FinalStep">Updates done in the whole run.</param>
/// <param name="Completed">True when the run reached its last step (the model folder was written).</param>
/// <param name="LastLoss">Loss of the last update (NaN if none ran).</param>
public sealed record TrainResult(long StepsRun, long FinalStep, bool Completed, double LastLoss);

/// <summary>The shared loop; a stage supplies the micro-batch loss and the model folder.</summary>
public abstract class TrainerBase : IDisposable
{
    private readonly Module _model;
    private readonly AdamW _optimizer;
    private readonly WeightEma? _ema;
    private readonly DataOrder _order;
    private readonly string _kind, _configJson, _dataId;
    private Rng _rng;

    /// <summary>The settings.</summary>
    public TrainOptions Options { get; }
    /// <summary>The run folder (checkpoint.safetensors, model/).</summary>
    public string RunDir { get; }
    /// <summary>Updates done.</summary>
    public long Step { get; private set; }
    /// <summary>Samples consumed.</summary>
    public long DataPosition { get; private set; }
    /// <summary>Called after every update.</summary>
    public Action<TrainProgress>? Progress { get; set; }

    /// <summary>Path of the checkpoint file.</summary>
    public string CheckpointPath => Path.Combine(RunDir, TrainCheckpoint.FileName);
    /// <summary>Path of the final model folder.</summary>
    public string ModelDir => Path.Combine(RunDir, "model");

    /// <summary>The optimizer (for tests).</summary>
    public AdamW Optimizer => _optimizer;

    /// <summary>Sets up optimizer, EMA and data order for <paramref name="trainable"/> parameters of <paramref name="model"/>.</summary>
    protected TrainerBase(string kind, Module model, IEnumerable<(string Name, Tensor Param)> trainable, string configJson,
        string dataId, int dataCount, TrainOptions options, string runDir)
    {
        Options = options.Validate();
        _kind = kind;
        _model = model;
        _configJson = configJson;
        _dataId = dataId;
        RunDir = runDir;
        var list = trainable.ToList();
        foreach (var (_, p) in list) p.RequiresGrad = true;
        _optimizer = new AdamW(list, new AdamWOptions { WeightDecay = options.WeightDecay });
        _ema = options.Ema > 0 ? new WeightEma(model.NamedParameters(), options.Ema) : null;
        _order = new DataOrder(dataCount, options.Seed);
        _rng = new Rng(options.Seed ^ 0x5EED_1AB3_0000_0000UL);
    }

    /// <summary>
    /// The loss of one micro-batch of samples <paramref name="indices"/>: builds it, runs forward and
    /// <c>Tape.Backward</c> (gradients add into the parameters), returns the loss value, the items processed
    /// (tokens or images) and named components. Runs inside a TensorScope the loop disposes.
    /// </summary>
    protected abstract (double Loss, long Items, IReadOnlyDictionary<string, double> Parts) MicroBatch(int[] indices, Rng rng);

    /// <summary>"tokens" or "images".</summary>
    protected abstract string ItemName { get; }

    /// <summary>Writes config.json + model.safetensors for <paramref name="weights"/> into <paramref name="dir"/>.</summary>
    protected abstract void WriteModelFolder(string dir, IEnumerable<KeyValuePair<string, Tensor>> weights);

    /// <summary>Restores the run from its checkpoint (refusing one of another config, data or batch). Returns the step reached.</summary>
    public long Resume()
    {
        var state = TrainCheckpoint.Restore(CheckpointPath, _kind, _configJson, Options, _dataId, _model, _optimizer, _ema);
        Step = state.Step;
        DataPosition = state.DataPosition;
        _rng = new Rng(state.RngSeed, state.RngPosition);
        return Step;
    }

    /// <summary>Writes the checkpoint now.</summary>
    public void SaveCheckpoint()
        => TrainCheckpoint.Save(CheckpointPath, new TrainState(_kind, Step, DataPosition, _rng.Seed, _rng.Position, _configJson, Options.ToJson(), _dataId), _model, _optimizer, _ema);

    /// <summary>
    /// Trains until <see cref="TrainOptions.Steps"/> updates are done or <paramref name="cancel"/> fires (checked
    /// between updates; the checkpoint is then written, so the run can resume). At the end the checkpoint and the
    /// model folder (EMA weights when EMA is on) are written.
    /// </summary>
    public TrainResult Run(CancellationToken cancel = default)
    {
        Directory.CreateDirectory(RunDir);
        var schedule = Options.LrSchedule;
        long start = Step;
        double lastLoss = double.NaN;
        var trainable = _optimizer.Parameters.Select(p => p.Param).ToList();
        while (Step < Options.Steps)
        {
            if (cancel.IsCancellationRequested)
            {
                SaveCheckpoint();
                return new TrainResult(Step - start, Step, false, lastLoss);
            }
            var clock = Stopwatch.StartNew();
            double lr = schedule.At(Step), lossSum = 0;
            long items = 0;
            var parts = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int a = 0; a < Options.Accum; a++)
            {
                var indices = _order.Take(DataPosition, Options.Batch);
                DataPosition += Options.Batch;
                using var scope = TensorScope.Open();
                var (loss, n, p) = MicroBatch(indices, _rng);
                lossSum += loss;
                items += n;
                foreach (var (k, v) in p) parts[k] = parts.GetValueOrDefault(k) + v / Options.Accum;
            }
            lastLoss = lossSum / Options.Accum;
            if (!double.IsFinite(lastLoss))
                throw new InvalidDataException($"train: the loss became {lastLoss} at step {Step + 1}; lower --lr or check the data (the last checkpoint is intact)");
            double norm;
            using (var pending = _optimizer.IssueStep(lr, 1.0 / Options.Accum, Options.Clip))
            {
                foreach (var p in trainable) p.ZeroGrad();
                _ema?.Update();
                norm = pending.Value;                                    // read once the step's work is queued
            }
            if (Options.Clip > 0 && !double.IsFinite(norm))
                throw new InvalidDataException($"train: the gradient norm became {norm} at step {Step + 1}; the weights were left unchanged (lower --lr or check the data; the last checkpoint is intact)");
            _rng = new Rng(_rng.Seed, _rng.Position);
            Step++;
            Progress?.Invoke(new TrainProgress(Step, Options.Steps, lastLoss, lr, norm, items / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), ItemName, parts));
            if (Options.SaveEvery > 0 && Step % Options.SaveEvery == 0 && Step < Options.Steps) SaveCheckpoint();
        }
        SaveCheckpoint();
        var weights = _ema is not null ? _ema.Weights() : _model.NamedParameters().Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Value));
        Directory.CreateDirectory(ModelDir);
        WriteModelFolder(ModelDir, weights);
        return new TrainResult(Step - start, Step, true, lastLoss);
    }

    /// <summary>Frees the optimizer state and EMA (the model belongs to the caller).</summary>
    public void Dispose()
    {
        _optimizer.Dispose();
        _ema?.Dispose();
        GC.SuppressFinalize(this);
    }
}

// Holds: the AdamW optimizer (torch.optim.AdamW semantics, AiM's settings from spec §7.1: β 0.9/0.95, ε 1e-8,
// weight decay only on tensors with at least 2 dimensions, as LlamaGen and AiM's get_decay_parameter_names intend).
// One fused kernel call per tensor (IKernels.AdamWStep); clipping and accumulation enter as the gradient scale.
using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Optim;

/// <summary>AdamW hyper-parameters that stay fixed over a run (the learning rate comes from a schedule per step).</summary>
public sealed record AdamWOptions
{
    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Denominator epsilon.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay, applied to tensors with at least 2 dimensions only.</summary>
    public double WeightDecay { get; init; } = 0.05;
}

/// <summary>
/// AdamW over a named parameter list. Moments are allocated (zeroed) up front on each parameter's device, so a
/// checkpoint always holds the same tensors. Parameters without a gradient at a step are left untouched
/// (their moments too), as PyTorch does.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<Slot> _slots = [];

    private sealed record Slot(string Name, Tensor Param, Tensor M, Tensor V, bool Decay);

    /// <summary>The options.</summary>
    public AdamWOptions Options { get; }

    /// <summary>Updates done so far (the bias-correction step of the next update is this + 1).</summary>
    public long StepCount { get; private set; }

    /// <summary>Builds the optimizer for <paramref name="parameters"/> (names must be unique).</summary>
    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, AdamWOptions? options = null)
    {
        Options = options ?? new AdamWOptions();
        new AdamWHyper(0, Options.Beta1, Options.Beta2, Options.Eps, Options.WeightDecay, 1, 1).Validate(nameof(AdamW));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in parameters)
        {
            if (!seen.Add(name)) throw new ArgumentException($"AdamW: duplicate parameter name '{name}'");
            if (!p.DType.IsFloat()) throw new ArgumentException($"AdamW: parameter '{name}' has dtype {p.DType.ShortName()}, expected a float type");
            var m = TensorScope.Detach(Tensor.Zeros(p.Shape, p.DType, p.Device));
            var v = TensorScope.Detach(Tensor.Zeros(p.Shape, p.DType, p.Device));
            _slots.Add(new Slot(name, p, m, v, p.Rank >= 2));
        }
    }

    /// <summary>The parameters in order.</summary>
    public IEnumerable<(string Name, Tensor Param)> Parameters => _slots.Select(s => (s.Name, s.Param));

    /// <summary>Whether weight decay applies to <paramref name="name"/> (rank ≥ 2).</summary>
    public bool Decays(string name) => _slots.First(s => s.Name == name).Decay;

    /// <summary>
    /// Global L2 norm of the current gradients times <paramref name="gradScale"/> (torch.nn.utils.clip_grad_norm_'s
    /// total norm). Each tensor writes partial sums of squares into its own slice of one buffer on the device (one kernel per
    /// tensor), the buffer is summed once and the host reads that sum once: a read per tensor would synchronise with
    /// the GPU ~270 times per AiM-B step.
    /// </summary>
    public double GradientNorm(double gradScale = 1)
    {
        var grads = new List<Tensor>();
        foreach (var s in _slots)
            if (s.Param.Grad is { } g) grads.Add(g);
        if (grads.Count == 0) return 0;
        using var scope = TensorScope.Open();
        using var noGrad = Autograd.Tape.NoGrad();
        var dtype = grads[0].DType;
        var counts = grads.Select(g => PartialCount(g.Count)).ToArray();
        var partials = Tensor.Empty([counts.Sum()], dtype, grads[0].Device);     // (Σ k)
        int at = 0;
        for (int i = 0; i < grads.Count; i++)
        {
            var g = grads[i].DType == dtype ? grads[i] : Ops.Cast(grads[i], dtype);
            Ops.SquaredNormPartials(g, Ops.Narrow(partials, 0, at, counts[i]));
            at += counts[i];
        }
        double sum = Ops.Sum(partials).Item();
        return Math.Sqrt(sum) * Math.Abs(gradScale);
    }

    /// <summary>Partial sums per gradient: one per 8192 elements, at most 128 (enough chunks to fill a GPU).</summary>
    private static int PartialCount(long n) => (int)Math.Clamp((n + 8191) / 8192, 1, 128);

    /// <summary>
    /// One update with learning rate <paramref name="lr"/>. The gradients are first multiplied by
    /// <paramref name="gradScale"/> (e.g. 1/accumulation steps), then clipped to a global norm of
    /// <paramref name="maxNorm"/> (≤ 0: no clipping) with PyTorch's coefficient min(1, max / (norm + 1e-6)).
    /// Returns the gradient norm before clipping. Gradients are not cleared.
    /// </summary>
    public double Step(double lr, double gradScale = 1, double maxNorm = 0)
    {
        double norm = GradientNorm(gradScale);
        double scale = gradScale * GradClip.Coefficient(norm, maxNorm);
        StepCount++;
        foreach (var s in _slots)
        {
            if (s.Param.Grad is not { } g) continue;
            var hyper = new AdamWHyper(lr, Options.Beta1, Options.Beta2, Options.Eps, s.Decay ? Options.WeightDecay : 0, StepCount, scale);
            Ops.AdamWStep(s.Param, g, s.M, s.V, hyper);
        }
        return norm;
    }

    /// <summary>The moments as "m/NAME" and "v/NAME" (views of the live tensors, for checkpoints).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var s in _slots)
        {
            yield return new($"m/{s.Name}", s.M);
            yield return new($"v/{s.Name}", s.V);
        }
    }

    /// <summary>
    /// Restores the moments and step count. Every moment must be present with the parameter's shape;
    /// problems are reported together, naming <paramref name="source"/>.
    /// </summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long stepCount, string source)
    {
        var problems = new List<string>();
        foreach (var (key, target) in StateTensors())
        {
            if (!state.TryGetValue(key, out var t)) problems.Add($"missing '{key}'");
            else if (!t.Shape.SequenceEqual(target.Shape)) problems.Add($"'{key}' has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(target.Shape)}");
        }
        if (problems.Count > 0) throw new InvalidDataException($"{source}: optimizer state does not match the model: {string.Join("; ", problems.Take(8))}");
        if (stepCount < 0) throw new InvalidDataException($"{source}: optimizer step {stepCount} is negative");
        foreach (var (key, target) in StateTensors())
        {
            var t = state[key];
            using var moved = t.Device == target.Device ? null : t.To(target.Device);
            Ops.CopyInto(moved ?? t, target);
        }
        StepCount = stepCount;
    }

    /// <summary>Frees the moments (not the parameters).</summary>
    public void Dispose()
    {
        foreach (var s in _slots)
        {
            s.M.Dispose();
            s.V.Dispose();
        }
        _slots.Clear();
    }
}

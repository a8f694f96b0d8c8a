// Holds: the AdamW optimizer (torch.optim.AdamW semantics, AiM's settings from spec §7.1: β 0.9/0.95, ε 1e-8,
// weight decay only on tensors with at least 2 dimensions, as LlamaGen and AiM's get_decay_parameter_names intend).
// One fused kernel call for all tensors (IKernels.AdamWStepMany); clipping and accumulation enter as the gradient scale,
// which the device computes from the summed norm partials, so issuing an update never waits for the GPU.
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
    /// total norm). Reads the norm from the device (a synchronisation); see <see cref="SumOfSquares"/>.
    /// </summary>
    public double GradientNorm(double gradScale = 1)
    {
        using var sum = SumOfSquares(Gradients());
        return sum is null ? 0 : GradClip.Norm(sum.Item(), gradScale);
    }

    /// <summary>
    /// Σ‖g‖² of <paramref name="grads"/> as a (1) tensor on their device, in the first gradient's dtype (others are
    /// cast to it), without reading it: every tensor writes partial sums of squares into its slice of one buffer
    /// (one <see cref="IKernels.SquaredNormPartialsMany"/> call, a handful of GPU launches for all tensors) and the
    /// buffer is summed once. Null when there is no gradient. The caller owns the result.
    /// </summary>
    private static Tensor? SumOfSquares(List<Tensor> grads)
    {
        if (grads.Count == 0) return null;
        using var scope = TensorScope.Open();
        using var noGrad = Autograd.Tape.NoGrad();
        var dtype = grads[0].DType;
        var counts = grads.Select(g => PartialCount(g.Count)).ToArray();
        var partials = Tensor.Empty([counts.Sum()], dtype, grads[0].Device);     // (Σ k)
        var same = grads.Select(g => g.DType == dtype ? g : Ops.Cast(g, dtype)).ToList();
        Ops.SquaredNormPartialsMany(same, counts, partials);
        return TensorScope.Detach(Ops.Sum(partials));                          // (1)
    }

    /// <summary>The gradients present, in parameter order.</summary>
    private List<Tensor> Gradients()
    {
        var grads = new List<Tensor>();
        foreach (var s in _slots)
            if (s.Param.Grad is { } g) grads.Add(g);
        return grads;
    }

    /// <summary>Partial sums per gradient: one per 8192 elements, at most 128 (enough chunks to fill a GPU).</summary>
    private static int PartialCount(long n) => (int)Math.Clamp((n + 8191) / 8192, 1, 128);

    /// <summary>
    /// One update with learning rate <paramref name="lr"/>. The gradients are first multiplied by
    /// <paramref name="gradScale"/> (e.g. 1/accumulation steps), then clipped to a global norm of
    /// <paramref name="maxNorm"/> (≤ 0: no clipping) with PyTorch's coefficient min(1, max / (norm + 1e-6)).
    /// Returns the gradient norm before clipping, read after the update is issued (<see cref="IssueStep"/>).
    /// Gradients are not cleared.
    /// </summary>
    public double Step(double lr, double gradScale = 1, double maxNorm = 0)
    {
        using var norm = IssueStep(lr, gradScale, maxNorm);
        return norm.Value;
    }

    /// <summary>
    /// <see cref="Step"/> without waiting for the device: the norm's partial sums, their total, the clip scale
    /// (<see cref="IKernels.GradClipScale"/>, computed where the gradients live) and the updates
    /// (<see cref="IKernels.AdamWStepMany"/>, which reads that scale from device memory) are all queued, and the
    /// returned <see cref="PendingNorm"/> reads the norm only when asked. The results are the bits <see cref="Step"/>
    /// has always produced: the device evaluates the host's double formula on the same sum.
    /// </summary>
    public PendingNorm IssueStep(double lr, double gradScale = 1, double maxNorm = 0)
    {
        if (!double.IsFinite(gradScale)) throw new ArgumentException($"AdamW: gradient scale {gradScale} is not finite");
        var live = _slots.Where(s => s.Param.Grad is not null).ToList();
        var sum = SumOfSquares(live.Select(s => s.Param.Grad!).ToList());
        StepCount++;
        if (sum is null) return new PendingNorm(null, gradScale);
        using (var scope = TensorScope.Open())
        using (Autograd.Tape.NoGrad())
        {
            var scale = Ops.GradClipScale(sum, gradScale, maxNorm);                // (1), the sum's dtype
            foreach (var group in live.GroupBy(s => s.Param.DType))
            {
                var slots = group.ToList();
                var hypers = slots.Select(s => new AdamWHyper(lr, Options.Beta1, Options.Beta2, Options.Eps, s.Decay ? Options.WeightDecay : 0, StepCount, 1)).ToList();
                var groupScale = scale.DType == group.Key ? scale : Ops.Cast(scale, group.Key);
                Ops.AdamWStepMany(slots.Select(s => s.Param).ToList(), slots.Select(s => s.Param.Grad!).ToList(),
                    slots.Select(s => s.M).ToList(), slots.Select(s => s.V).ToList(), hypers, groupScale);
            }
        }
        return new PendingNorm(sum, gradScale);
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

/// <summary>
/// The global gradient norm of an update issued by <see cref="AdamW.IssueStep"/>: the sum of squares stays on the
/// device until <see cref="Value"/> is first read (which waits for the queued work up to that sum).
/// </summary>
public sealed class PendingNorm : IDisposable
{
    private Tensor? _sumOfSquares;
    private readonly double _gradScale;
    private double _value;

    internal PendingNorm(Tensor? sumOfSquares, double gradScale)
    {
        _sumOfSquares = sumOfSquares;
        _gradScale = gradScale;
    }

    /// <summary>√(Σ‖g‖²) · |gradScale| before clipping (0 when no parameter had a gradient); read once, then cached.</summary>
    public double Value
    {
        get
        {
            if (_sumOfSquares is { } s)
            {
                _value = GradClip.Norm(s.Item(), _gradScale);
                s.Dispose();
                _sumOfSquares = null;
            }
            return _value;
        }
    }

    /// <summary>Frees the device copy of the sum (the value is lost unless it was read).</summary>
    public void Dispose()
    {
        _sumOfSquares?.Dispose();
        _sumOfSquares = null;
    }
}

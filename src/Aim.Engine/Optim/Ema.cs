// Holds: an exponential moving average of model weights (shadow copies updated after each optimizer step,
// ema ← decay·ema + (1 − decay)·param, the LlamaGen/DiT `update_ema` rule) through IKernels.EmaUpdate.
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Optim;

/// <summary>Shadow weights averaged over training steps.</summary>
public sealed class WeightEma : IDisposable
{
    private readonly List<(string Name, Tensor Param, Tensor Shadow)> _slots = [];

    /// <summary>The decay per update (e.g. 0.9999).</summary>
    public double Decay { get; }

    /// <summary>Starts the average at the current parameter values.</summary>
    public WeightEma(IEnumerable<(string Name, Tensor Param)> parameters, double decay)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentException($"EMA decay {decay} must lie in [0, 1]");
        Decay = decay;
        foreach (var (name, p) in parameters)
            _slots.Add((name, p, TensorScope.Detach(Ops.Clone(p))));
    }

    /// <summary>ema ← ema + (1 − decay)·(param − ema) for every parameter.</summary>
    public void Update()
    {
        foreach (var (_, p, s) in _slots) Ops.EmaUpdate(s, p, Decay);
    }

    /// <summary>The shadow weights by parameter name (live tensors).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Weights() => _slots.Select(s => new KeyValuePair<string, Tensor>(s.Name, s.Shadow));

    /// <summary>Restores the shadow weights; every name must be present with its shape.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> state, string source)
    {
        foreach (var (name, _, s) in _slots)
        {
            if (!state.TryGetValue(name, out var t)) throw new InvalidDataException($"{source}: EMA weights miss '{name}'");
            if (!t.Shape.SequenceEqual(s.Shape)) throw new InvalidDataException($"{source}: EMA '{name}' has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(s.Shape)}");
        }
        foreach (var (name, _, s) in _slots)
        {
            var t = state[name];
            using var moved = t.Device == s.Device ? null : t.To(s.Device);
            Ops.CopyInto(moved ?? t, s);
        }
    }

    /// <summary>Frees the shadow weights.</summary>
    public void Dispose()
    {
        foreach (var (_, _, s) in _slots) s.Dispose();
        _slots.Clear();
    }
}

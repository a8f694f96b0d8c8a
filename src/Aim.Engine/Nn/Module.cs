using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>
/// One registered parameter slot: the module reads its tensor through <see cref="Value"/>, which
/// <see cref="Module.To"/> replaces with a copy on another device (so modules never cache the tensor itself).
/// </summary>
public sealed class Parameter
{
    internal Parameter(string name, Tensor value)
    {
        Name = name;
        Value = value;
    }

    /// <summary>The PyTorch name within its module ("weight").</summary>
    public string Name { get; }

    /// <summary>The current tensor (owned by the module).</summary>
    public Tensor Value { get; internal set; }
}

/// <summary>
/// A tree of named parameters, named exactly as the PyTorch state_dict keys of the original code
/// (children and parameters are registered explicitly with their PyTorch names; no reflection).
/// A module owns its parameters and frees them on <see cref="Dispose"/>. Modules keep the <see cref="Parameter"/>
/// slots that registration returns and read <see cref="Parameter.Value"/> on use, so <see cref="To"/> can move them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<Parameter> _parameters = [];
    private readonly List<(string Name, Module Value)> _children = [];
    private bool _disposed;

    /// <summary>
    /// Registers a parameter under its PyTorch name (the tensor is taken out of any scope: the module owns it) and
    /// returns its slot; read the tensor through <see cref="Parameter.Value"/> each time, never keep it.
    /// </summary>
    protected Parameter RegisterParameter(string name, Tensor value)
    {
        TensorScope.Detach(value);
        var slot = new Parameter(name, value);
        _parameters.Add(slot);
        return slot;
    }

    /// <summary>Registers a child module under its PyTorch name.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>Every parameter with its full dotted name, in registration order (depth first).</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "")
    {
        foreach (var p in _parameters) yield return (prefix + p.Name, p.Value);
        foreach (var (n, c) in _children)
            foreach (var item in c.NamedParameters(prefix + n + "."))
                yield return item;
    }

    /// <summary>The direct children with their names.</summary>
    public IReadOnlyList<(string Name, Module Value)> Children => _children;

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount() => NamedParameters().Sum(p => p.Value.Count);

    /// <summary>Sets RequiresGrad on every parameter.</summary>
    public void SetRequiresGrad(bool value)
    {
        foreach (var (_, p) in NamedParameters()) p.RequiresGrad = value;
    }

    /// <summary>Drops every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters()) p.ZeroGrad();
    }

    /// <summary>
    /// Copies a state dict into the parameters, strictly: every parameter must be present with its exact shape,
    /// and every key must be used. All problems are reported together, by name. Values are converted to the
    /// parameter's dtype and device.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters())
        {
            if (!state.TryGetValue(name, out var v))
            {
                problems.Add($"missing '{name}' {Tensor.ShapeString(p.Shape)}");
                continue;
            }
            used.Add(name);
            if (!v.Shape.SequenceEqual(p.Shape))
            {
                problems.Add($"'{name}' has shape {Tensor.ShapeString(v.Shape)}, the model expects {Tensor.ShapeString(p.Shape)}");
                continue;
            }
            if (!v.DType.IsFloat())
            {
                problems.Add($"'{name}' has dtype {v.DType.ShortName()}, expected a float type");
                continue;
            }
        }
        foreach (var key in state.Keys)
            if (!used.Contains(key)) problems.Add($"unexpected '{key}' {Tensor.ShapeString(state[key].Shape)}");
        if (problems.Count > 0)
        {
            const int shown = 12;
            string list = string.Join("; ", problems.Take(shown)) + (problems.Count > shown ? $"; and {problems.Count - shown} more" : "");
            throw new InvalidDataException($"{source}: checkpoint does not match the model: {list}");
        }
        foreach (var (name, p) in NamedParameters())
        {
            var v = state[name];
            using var host = v.Device == p.Device ? null : v.To(p.Device);
            Operations.Ops.CopyInto(host ?? v, p);
        }
    }

    /// <summary>
    /// Moves every parameter of this module and its children to <paramref name="device"/> in place: each slot gets a
    /// copy there (same dtype and shape, contiguous, RequiresGrad kept, gradient dropped) and the old tensor is freed.
    /// Parameters already on the device stay as they are. Tensors obtained from the module earlier still point to
    /// the old, freed copies: read them again after moving.
    /// </summary>
    public void To(Device device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var p in _parameters)
        {
            var old = p.Value;
            if (old.Device == device) continue;
            var moved = TensorScope.Detach(old.To(device));
            moved.RequiresGrad = old.RequiresGrad;
            p.Value = moved;
            old.Dispose();
        }
        foreach (var (_, c) in _children) c.To(device);
    }

    /// <summary>
    /// Converts the parameters whose full names satisfy <paramref name="select"/> to <paramref name="dtype"/> in place
    /// (e.g. weight-only bf16 for inference: matrices stored in bf16, math in f32). Returns how many were converted.
    /// </summary>
    public int ConvertParameters(DType dtype, Func<string, bool> select, string prefix = "")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int converted = 0;
        foreach (var p in _parameters)
        {
            var old = p.Value;
            if (old.DType == dtype || !select(prefix + p.Name)) continue;
            Tensor cast;
            using (Autograd.Tape.NoGrad()) cast = TensorScope.Detach(Operations.Ops.Cast(old, dtype));
            p.Value = cast;
            old.Dispose();
            converted++;
        }
        foreach (var (name, c) in _children) converted += c.ConvertParameters(dtype, select, prefix + name + ".");
        return converted;
    }

    /// <summary>Frees every parameter of this module and its children.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters) p.Value.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>
/// A tree of named parameters, named exactly as the PyTorch state_dict keys of the original code
/// (children and parameters are registered explicitly with their PyTorch names; no reflection).
/// A module owns its parameters and frees them on <see cref="Dispose"/>.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _parameters = [];
    private readonly List<(string Name, Module Value)> _children = [];
    private bool _disposed;

    /// <summary>Registers a parameter under its PyTorch name (the tensor is taken out of any scope: the module owns it).</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        TensorScope.Detach(value);
        _parameters.Add((name, value));
        return value;
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
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
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

    /// <summary>Frees every parameter of this module and its children.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, p) in _parameters) p.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}

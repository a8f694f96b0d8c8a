namespace Aim.Engine.Tensors;

/// <summary>
/// Collects every tensor created on this thread while it is open and disposes them when it closes,
/// except those moved out with <see cref="Keep"/>. This is how intermediate activations are released
/// deterministically without a dispose call per temporary (TorchSharp's DisposeScope idea).
/// </summary>
/// <example><code>
/// using (var scope = TensorScope.Open())
/// {
///     var y = Ops.Silu(Ops.Add(a, b));   // temporaries belong to the scope
///     result = scope.Keep(y);             // y survives, moved to the enclosing scope
/// }
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private readonly List<Tensor> _owned = [];
    private readonly TensorScope? _parent;
    private bool _disposed;

    private TensorScope(TensorScope? parent) => _parent = parent;

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static TensorScope? Current => t_current;

    /// <summary>Opens a scope nested in the current one.</summary>
    public static TensorScope Open()
    {
        var scope = new TensorScope(t_current);
        t_current = scope;
        return scope;
    }

    internal static void Register(Tensor t)
    {
        var scope = t_current;
        if (scope is null) return;
        t.Scope = scope;
        scope._owned.Add(t);
    }

    /// <summary>Moves <paramref name="t"/> to the enclosing scope (or to no scope: the caller owns it).</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope != this) return t;
        _owned.Remove(t);
        t.Scope = _parent;
        _parent?._owned.Add(t);
        return t;
    }

    /// <summary>Takes <paramref name="t"/> out of every scope: the caller must dispose it.</summary>
    public static Tensor Detach(Tensor t)
    {
        t.Scope?._owned.Remove(t);
        t.Scope = null;
        return t;
    }

    /// <summary>Disposes every tensor still owned and makes the parent current again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (t_current == this) t_current = _parent;
        foreach (var t in _owned)
        {
            t.Scope = null;
            t.Dispose();
        }
        _owned.Clear();
    }
}

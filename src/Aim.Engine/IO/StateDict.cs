// Holds: StateDict, an ordered name -> tensor map that owns its tensors (what checkpoint readers return).
using System.Collections;
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>
/// Named tensors in insertion order (file order), plus string metadata. The dictionary owns one
/// reference to each tensor and disposes them all on <see cref="Dispose"/>; use <see cref="Take"/> to
/// move a tensor out. Tied weights loaded from a PyTorch file are distinct tensors sharing one storage.
/// </summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <summary>An empty dictionary.</summary>
    /// <param name="metadata">String metadata (e.g. safetensors <c>__metadata__</c>); copied.</param>
    /// <param name="source">Where the tensors came from, used in error messages.</param>
    public StateDict(IReadOnlyDictionary<string, string>? metadata = null, string? source = null)
    {
        Metadata = metadata is null ? new Dictionary<string, string>() : new Dictionary<string, string>(metadata);
        Source = source;
    }

    /// <summary>String metadata carried with the tensors.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The file the tensors were read from, if any.</summary>
    public string? Source { get; }

    /// <summary>Tensor names in insertion order.</summary>
    public IReadOnlyList<string> Names => _order;

    /// <inheritdoc />
    public int Count => _order.Count;

    /// <summary>The tensor named <paramref name="key"/> (still owned by this dictionary).</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message names the key and the source file.</exception>
    public Tensor this[string key]
        => _tensors.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"no tensor '{key}' in {Source ?? "state dict"} ({Count} tensors)");

    /// <inheritdoc />
    public IEnumerable<string> Keys => _order;

    /// <inheritdoc />
    public IEnumerable<Tensor> Values => _order.Select(k => _tensors[k]);

    /// <summary>Adds <paramref name="tensor"/> under <paramref name="name"/>; the dictionary takes ownership.</summary>
    public void Add(string name, Tensor tensor)
    {
        if (!_tensors.TryAdd(name, tensor)) throw new ArgumentException($"StateDict.Add: duplicate tensor name '{name}'", nameof(name));
        _order.Add(name);
    }

    /// <summary>Removes <paramref name="name"/> and hands its tensor to the caller, who must dispose it.</summary>
    public Tensor Take(string name)
    {
        var t = this[name];
        _tensors.Remove(name);
        _order.Remove(name);
        return t;
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor value) => _tensors.TryGetValue(key, out value);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
    {
        foreach (string k in _order) yield return new KeyValuePair<string, Tensor>(k, _tensors[k]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every tensor still held.</summary>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
        _order.Clear();
    }
}

// Holds: the plain-data tree the restricted unpickler builds (Python None/bool/int/float/str/bytes/tuple/
// list/dict, tensors, and inert references to allow-listed globals and torch storages).
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>A value decoded from a pickle. Only data: nothing in the tree was executed or instantiated by name.</summary>
public abstract class PickleValue
{
    /// <summary>Short description for error messages ("dict", "int 3", ...).</summary>
    public abstract string Describe();

    /// <summary>This value as a dict, or an <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public PickleDict AsDict(string what) => this as PickleDict ?? throw new InvalidDataException($"{what} is {Describe()}, expected a dict");

    /// <summary>This value as a tuple, or an <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public PickleTuple AsTuple(string what) => this as PickleTuple ?? throw new InvalidDataException($"{what} is {Describe()}, expected a tuple");

    /// <summary>This value as a 64-bit integer, or an <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public long AsInt(string what) => this is PickleInt i ? i.Value : throw new InvalidDataException($"{what} is {Describe()}, expected an int");

    /// <summary>This value as a string, or an <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public string AsString(string what) => this is PickleString s ? s.Value : throw new InvalidDataException($"{what} is {Describe()}, expected a str");
}

/// <summary>Python None.</summary>
public sealed class PickleNone : PickleValue
{
    private PickleNone() { }

    /// <summary>The only instance.</summary>
    public static PickleNone Instance { get; } = new();

    /// <inheritdoc />
    public override string Describe() => "None";
}

/// <summary>Python bool.</summary>
public sealed class PickleBool(bool value) : PickleValue
{
    /// <summary>The value.</summary>
    public bool Value { get; } = value;

    /// <inheritdoc />
    public override string Describe() => Value ? "True" : "False";
}

/// <summary>Python int (within 64 bits; larger ones are rejected when decoding).</summary>
public sealed class PickleInt(long value) : PickleValue
{
    /// <summary>The value.</summary>
    public long Value { get; } = value;

    /// <inheritdoc />
    public override string Describe() => $"int {Value}";
}

/// <summary>Python float.</summary>
public sealed class PickleFloat(double value) : PickleValue
{
    /// <summary>The value.</summary>
    public double Value { get; } = value;

    /// <inheritdoc />
    public override string Describe() => $"float {Value}";
}

/// <summary>Python str.</summary>
public sealed class PickleString(string value) : PickleValue
{
    /// <summary>The value.</summary>
    public string Value { get; } = value;

    /// <inheritdoc />
    public override string Describe() => $"str '{Value}'";
}

/// <summary>Python bytes.</summary>
public sealed class PickleBytes(byte[] value) : PickleValue
{
    /// <summary>The value.</summary>
    public byte[] Value { get; } = value;

    /// <inheritdoc />
    public override string Describe() => $"bytes[{Value.Length}]";
}

/// <summary>Python tuple.</summary>
public sealed class PickleTuple(IReadOnlyList<PickleValue> items) : PickleValue
{
    /// <summary>The items.</summary>
    public IReadOnlyList<PickleValue> Items { get; } = items;

    /// <summary>Number of items.</summary>
    public int Count => Items.Count;

    /// <summary>Item <paramref name="index"/>.</summary>
    public PickleValue this[int index] => Items[index];

    /// <inheritdoc />
    public override string Describe() => $"tuple of {Items.Count}";
}

/// <summary>Python list.</summary>
public sealed class PickleList : PickleValue
{
    internal List<PickleValue> Mutable { get; } = [];

    /// <summary>The items.</summary>
    public IReadOnlyList<PickleValue> Items => Mutable;

    /// <inheritdoc />
    public override string Describe() => $"list of {Mutable.Count}";
}

/// <summary>Python dict or collections.OrderedDict, in insertion order, plus attributes set by BUILD (e.g. <c>_metadata</c>).</summary>
public sealed class PickleDict : PickleValue
{
    private readonly List<KeyValuePair<PickleValue, PickleValue>> _entries = [];
    private readonly Dictionary<object, int> _index = [];
    private readonly Dictionary<string, PickleValue> _attributes = new(StringComparer.Ordinal);

    /// <summary>Entries in insertion order.</summary>
    public IReadOnlyList<KeyValuePair<PickleValue, PickleValue>> Entries => _entries;

    /// <summary>Number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>Object attributes restored by BUILD (a state_dict's <c>_metadata</c>).</summary>
    public IReadOnlyDictionary<string, PickleValue> Attributes => _attributes;

    /// <summary>The value under string key <paramref name="key"/>.</summary>
    public PickleValue this[string key]
        => TryGet(key, out var v) ? v : throw new KeyNotFoundException($"no key '{key}' in dict (keys: {string.Join(", ", StringKeys().Take(8))}{(Count > 8 ? ", ..." : "")})");

    /// <summary>Looks up string key <paramref name="key"/>.</summary>
    public bool TryGet(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out PickleValue value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            value = _entries[i].Value;
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>The string keys, in order.</summary>
    public IEnumerable<string> StringKeys() => _entries.Select(e => e.Key).OfType<PickleString>().Select(s => s.Value);

    internal void Set(PickleValue key, PickleValue value)
    {
        object? k = key switch
        {
            PickleString s => s.Value,
            PickleInt i => i.Value,
            PickleBool b => b.Value ? 1L : 0L,
            _ => null,
        };
        if (k is not null && _index.TryGetValue(k, out int at))
        {
            _entries[at] = new(_entries[at].Key, value);
            return;
        }
        if (k is not null) _index[k] = _entries.Count;
        _entries.Add(new(key, value));
    }

    internal void SetAttribute(string name, PickleValue value) => _attributes[name] = value;

    /// <inheritdoc />
    public override string Describe() => $"dict of {Count}";
}

/// <summary>A tensor rebuilt by <c>torch._utils._rebuild_tensor_v2</c>; owned by the <see cref="TorchCheckpoint"/>.</summary>
public sealed class PickleTensor(Tensor tensor) : PickleValue
{
    /// <summary>The tensor (a view of its storage honouring offset, size and stride).</summary>
    public Tensor Tensor { get; } = tensor;

    /// <inheritdoc />
    public override string Describe() => $"tensor {Tensor}";
}

/// <summary>An inert reference to an allow-listed global (a name, never a resolved Python object).</summary>
public sealed class PickleGlobal(string module, string name) : PickleValue
{
    /// <summary>Module part ("torch._utils").</summary>
    public string Module { get; } = module;

    /// <summary>Name part ("_rebuild_tensor_v2").</summary>
    public string Name { get; } = name;

    /// <summary>"module.name".</summary>
    public string FullName => $"{Module}.{Name}";

    /// <inheritdoc />
    public override string Describe() => $"global '{FullName}'";
}

/// <summary>A torch storage loaded from <c>&lt;archive&gt;/data/&lt;key&gt;</c>; shared by every tensor that views it.</summary>
public sealed class PickleStorage : PickleValue
{
    internal PickleStorage(string key, DType dtype, long elementCount, Storage storage)
    {
        Key = key;
        DType = dtype;
        ElementCount = elementCount;
        Storage = storage;
    }

    /// <summary>Record key in the archive.</summary>
    public string Key { get; }

    /// <summary>Engine dtype of the elements (after widening HalfStorage etc.).</summary>
    public DType DType { get; }

    /// <summary>Number of elements.</summary>
    public long ElementCount { get; }

    internal Storage Storage { get; }

    /// <inheritdoc />
    public override string Describe() => $"storage '{Key}' ({DType.ShortName()} x {ElementCount})";
}

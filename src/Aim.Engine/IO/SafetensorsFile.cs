// Holds: the safetensors reader. Format (huggingface/safetensors README): u64 little-endian header
// length N, N bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {str: str}}, then the data section; offsets are relative to the start of the data section.
using System.Buffers.Binary;
using System.Text.Json;
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>One tensor as described by a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="FileDType">The dtype string in the file ("F32", "BF16", ...).</param>
/// <param name="DType">The engine dtype the tensor is loaded as (F16 loads as Float32, BOOL/U8/I8/I16/U16 as Int32).</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte, relative to the data section.</param>
public sealed record SafetensorsEntry(string Name, string FileDType, DType DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes the tensor occupies in the file.</summary>
    public long ByteLength => End - Begin;
}

/// <summary>
/// An open safetensors file, memory-mapped. Tensors it returns borrow the mapping (no copy for F32, F64,
/// BF16, I32, I64); the mapping is released when this object and every such tensor have been disposed.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile? _map;
    private readonly Dictionary<string, SafetensorsEntry> _byName;
    private readonly long _dataStart;
    private bool _disposed;

    private SafetensorsFile(string path, MappedFile? map, long dataStart, List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _dataStart = dataStart;
        Entries = entries;
        _byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Metadata = metadata;
    }

    /// <summary>The file this was opened from.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors in the order of their data offsets.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of tensor <paramref name="name"/>.</summary>
    public SafetensorsEntry Entry(string name)
        => _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>Opens and validates <paramref name="path"/>; tensor data is mapped, not read.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is malformed or inconsistent with the file.</exception>
    public static SafetensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        long size = info.Length;
        if (size < 8) throw Bad(path, $"file is {size} bytes, too short for the 8-byte header length");

        Span<byte> lengthBytes = stackalloc byte[8];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
            fs.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(size - 8))
            throw Bad(path, $"header length {headerLength} is larger than the {size - 8} bytes after the length field (truncated file?)");
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");

        var map = MappedFile.Open(path, size);
        try
        {
            long dataStart = 8 + (long)headerLength;
            var header = new ReadOnlySpan<byte>((byte*)map.Pointer + 8, (int)headerLength);
            var (entries, metadata) = ParseHeader(path, header, size - dataStart);
            return new SafetensorsFile(path, map, dataStart, entries, metadata);
        }
        catch
        {
            map.Release();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/>, loads every tensor and closes it (tensors keep the mapping alive).</summary>
    public static StateDict Load(string path)
    {
        using var file = Open(path);
        return file.ReadAll();
    }

    /// <summary>
    /// Tensor <paramref name="name"/> as a new tensor the caller owns (outside any <see cref="TensorScope"/>).
    /// Native dtypes point into the mapping; F16 and the small integer types are converted into host memory.
    /// </summary>
    public Tensor Read(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = Entry(name);
        var element = ParseElement(e.FileDType)!.Value;
        byte* p = (byte*)_map!.Pointer + _dataStart + e.Begin;
        Storage storage;
        if (ElementConvert.IsNative(element))
            storage = new BorrowedCpuStorage((nint)p, e.ByteLength, _map.Lease());
        else
            storage = ElementConvert.Widen(element, p, Tensor.ElementCount(e.Shape));
        int[] shape = (int[])e.Shape.Clone();
        var t = new Tensor(storage, e.DType, shape, Tensor.ContiguousStrides(shape), 0, addReference: false);
        return TensorScope.Detach(t);
    }

    /// <summary>All tensors, in data-offset order, with the file's metadata.</summary>
    public StateDict ReadAll()
    {
        var dict = new StateDict(Metadata, Path);
        try
        {
            foreach (var e in Entries) dict.Add(e.Name, Read(e.Name));
        }
        catch
        {
            dict.Dispose();
            throw;
        }
        return dict;
    }

    /// <summary>Releases this object's hold on the mapping (tensors already read stay valid).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _map?.Release();
    }

    // ---------------------------------------------------------------- header

    private static (List<SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataBytes)
    {
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
            doc = JsonDocument.ParseValue(ref reader);
            // Only padding may follow the JSON object.
            if (reader.BytesConsumed < header.Length && header[(int)reader.BytesConsumed..].IndexOfAnyExcept(" \n\r\t"u8) >= 0)
                throw Bad(path, $"header has bytes after the JSON object at offset {8 + reader.BytesConsumed}");
        }
        catch (JsonException ex)
        {
            throw Bad(path, $"header is not valid JSON: {ex.Message}", ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Bad(path, $"header names '{prop.Name}' twice");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"__metadata__ value of '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value, dataBytes));
            }
        }

        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        for (int i = 1; i < entries.Count; i++)
        {
            var prev = entries[i - 1];
            var cur = entries[i];
            if (cur.Begin < prev.End && cur.ByteLength > 0 && prev.ByteLength > 0)
                throw Bad(path, $"tensor '{cur.Name}' bytes [{cur.Begin}, {cur.End}) overlap tensor '{prev.Name}' bytes [{prev.Begin}, {prev.End})");
        }
        return (entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement value, long dataBytes)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Bad(path, $"tensor '{name}': header entry is not an object");
        if (!value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor '{name}': missing string 'dtype'");
        string dtypeName = dtypeEl.GetString()!;
        var element = ParseElement(dtypeName)
            ?? throw Bad(path, $"tensor '{name}': unknown or unsupported dtype '{dtypeName}' (supported: F32, F64, BF16, I32, I64, F16, BOOL, U8, I8, I16, U16)");

        if (!value.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}': missing array 'shape'");
        var shape = new int[shapeEl.GetArrayLength()];
        int k = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int n) || n < 0)
                throw Bad(path, $"tensor '{name}': shape entry {d} is not a non-negative 32-bit integer");
            shape[k++] = n;
        }

        if (!value.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}': 'data_offsets' must be an array of two integers");
        if (!offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad(path, $"tensor '{name}': data_offsets [{offEl[0]}, {offEl[1]}] are not 0 <= begin <= end");
        if (end > dataBytes)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}) run past the end of the data section ({dataBytes} bytes)");

        long expected;
        try
        {
            long count = 1;
            foreach (int n in shape) count = checked(count * n);
            expected = checked(count * ElementConvert.SizeOf(element));
        }
        catch (OverflowException)
        {
            throw Bad(path, $"tensor '{name}': shape {Tensor.ShapeString(shape)} overflows a 64-bit byte count");
        }
        if (end - begin != expected)
            throw Bad(path, $"tensor '{name}': {end - begin} bytes in data_offsets but shape {Tensor.ShapeString(shape)} of {dtypeName} needs {expected}");
        return new SafetensorsEntry(name, dtypeName, ElementConvert.EngineType(element), shape, begin, end);
    }

    private static FileElement? ParseElement(string dtype) => dtype switch
    {
        "F32" => FileElement.F32,
        "F64" => FileElement.F64,
        "BF16" => FileElement.BF16,
        "I32" => FileElement.I32,
        "I64" => FileElement.I64,
        "F16" => FileElement.F16,
        "BOOL" => FileElement.Bool,
        "U8" => FileElement.U8,
        "I8" => FileElement.I8,
        "I16" => FileElement.I16,
        "U16" => FileElement.U16,
        _ => null,
    };

    private static InvalidDataException Bad(string path, string message, Exception? inner = null)
        => new($"safetensors file '{path}': {message}", inner);
}

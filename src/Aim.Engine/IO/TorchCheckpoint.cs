// Holds: the reader for torch.save zip checkpoints (pytorch_model.bin, *.pt). Layout (PyTorch
// serialization notes): a zip with <archive>/data.pkl (the pickled object, tensors as persistent ids),
// <archive>/data/<key> (raw little-endian storage bytes), optional <archive>/byteorder ("little"/"big").
using System.IO.Compression;
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>
/// A torch.save zip checkpoint decoded with <see cref="RestrictedUnpickler"/>: the pickled object as a
/// <see cref="PickleValue"/> tree whose tensors are views of host storages read from the archive.
/// Tensors viewing one storage (tied weights) share one <see cref="Storage"/>. This object owns the
/// tensors in <see cref="Root"/>; state dicts obtained from it hold their own references.
/// </summary>
public sealed unsafe class TorchCheckpoint : IDisposable
{
    private readonly List<Tensor> _tensors;

    private TorchCheckpoint(string path, PickleValue root, List<Tensor> tensors)
    {
        Path = path;
        Root = root;
        _tensors = tensors;
    }

    /// <summary>The file this was read from.</summary>
    public string Path { get; }

    /// <summary>The unpickled object (for a state_dict: a <see cref="PickleDict"/> of name -> <see cref="PickleTensor"/>).</summary>
    public PickleValue Root { get; }

    /// <summary>Reads and decodes <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a torch.save zip, a refused global, or inconsistent records.</exception>
    public static TorchCheckpoint Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"PyTorch checkpoint not found: {path}", path);
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"PyTorch checkpoint '{path}': not a zip archive (only the torch.save zip format of PyTorch >= 1.6 is supported): {ex.Message}", ex);
        }

        var storages = new Dictionary<string, PickleStorage>(StringComparer.Ordinal);
        var tensors = new List<Tensor>();
        try
        {
            using (zip)
            {
                var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/', StringComparison.Ordinal) == e.FullName.Length - "/data.pkl".Length)
                    ?? throw new InvalidDataException($"PyTorch checkpoint '{path}': no '<archive>/data.pkl' record");
                string prefix = pkl.FullName[..^"data.pkl".Length];
                string source = $"PyTorch checkpoint '{path}' ({pkl.FullName})";

                var byteorder = zip.GetEntry(prefix + "byteorder");
                if (byteorder is not null)
                {
                    string order = System.Text.Encoding.ASCII.GetString(ReadAll(byteorder)).Trim();
                    if (order != "little") throw new InvalidDataException($"PyTorch checkpoint '{path}': byteorder '{order}' is not supported (little-endian only)");
                }

                PickleStorage LoadStorage(string key, FileElement element, long count, string location)
                {
                    if (storages.TryGetValue(key, out var known))
                    {
                        if (known.DType != ElementConvert.EngineType(element) || known.ElementCount != count)
                            throw new InvalidDataException($"{source}: storage '{key}' is referenced as {element} x {count} and as {known.DType.ShortName()} x {known.ElementCount}");
                        return known;
                    }
                    var storage = ReadStorage(zip, prefix, key, element, count, source);
                    var ps = new PickleStorage(key, ElementConvert.EngineType(element), count, storage);
                    storages.Add(key, ps);
                    return ps;
                }

                Tensor MakeTensor(PickleStorage s, long offset, int[] size, long[] stride)
                {
                    var t = TensorScope.Detach(new Tensor(s.Storage, s.DType, size, stride, offset, addReference: true));
                    tensors.Add(t);
                    return t;
                }

                var root = new RestrictedUnpickler(ReadAll(pkl), source, LoadStorage, MakeTensor).Load();
                return new TorchCheckpoint(path, root, tensors);
            }
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
        finally
        {
            // The loader's own reference: storages now live exactly as long as the tensors viewing them.
            foreach (var s in storages.Values) s.Storage.Release();
        }
    }

    /// <summary>
    /// The flat state_dict found by following string keys <paramref name="keyPath"/> from the root
    /// (none: the root itself; LlamaGen's VQ checkpoints: "model"). The result holds new views (the
    /// caller owns them; this checkpoint may be disposed); tied tensors keep sharing one storage.
    /// </summary>
    public StateDict GetStateDict(params string[] keyPath)
    {
        var node = Root;
        string where = "root";
        foreach (string key in keyPath)
        {
            var d = node as PickleDict ?? throw new InvalidDataException($"PyTorch checkpoint '{Path}': {where} is {node.Describe()}, cannot look up '{key}'");
            if (!d.TryGet(key, out var next))
                throw new KeyNotFoundException($"PyTorch checkpoint '{Path}': {where} has no key '{key}' (keys: {string.Join(", ", d.StringKeys().Take(10))})");
            node = next;
            where = where == "root" ? $"['{key}']" : $"{where}['{key}']";
        }
        var dict = node as PickleDict ?? throw new InvalidDataException($"PyTorch checkpoint '{Path}': {where} is {node.Describe()}, not a state_dict");
        var result = new StateDict(source: Path);
        try
        {
            foreach (var (k, v) in dict.Entries)
            {
                string name = k.AsString($"{where} key");
                if (v is not PickleTensor pt)
                {
                    string hint = v is PickleDict ? $" (a nested dict: pass its key path, e.g. \"{name}\")" : "";
                    throw new InvalidDataException($"PyTorch checkpoint '{Path}': {where}['{name}'] is {v.Describe()}, not a tensor{hint}");
                }
                result.Add(name, TensorScope.Detach(pt.Tensor.CreateViewSame()));
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Opens <paramref name="path"/> and returns the state_dict at <paramref name="keyPath"/>.</summary>
    public static StateDict Load(string path, params string[] keyPath)
    {
        using var ckpt = Open(path);
        return ckpt.GetStateDict(keyPath);
    }

    /// <summary>Disposes the tensors of <see cref="Root"/> (state dicts taken from it stay valid).</summary>
    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }

    private static Storage ReadStorage(ZipArchive zip, string prefix, string key, FileElement element, long count, string source)
    {
        var entry = zip.GetEntry($"{prefix}data/{key}") ?? throw new InvalidDataException($"{source}: storage record '{prefix}data/{key}' is missing");
        long bytes = checked(count * ElementConvert.SizeOf(element));
        if (entry.Length != bytes)
            throw new InvalidDataException($"{source}: storage record '{entry.FullName}' has {entry.Length} bytes, but {count} elements of {element} need {bytes}");
        var raw = CpuStorage.Allocate(bytes, zero: false);
        bool rawOwned = true;
        try
        {
            using (var s = entry.Open())
            {
                for (long done = 0; done < bytes;)
                {
                    int chunk = (int)Math.Min(bytes - done, 1 << 30);
                    s.ReadExactly(new Span<byte>((byte*)raw.Pointer + done, chunk));
                    done += chunk;
                }
            }
            if (ElementConvert.IsNative(element))
            {
                rawOwned = false;
                return raw;
            }
            return ElementConvert.Widen(element, (byte*)raw.Pointer, count);
        }
        finally
        {
            if (rawOwned) raw.Release();
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var s = entry.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}

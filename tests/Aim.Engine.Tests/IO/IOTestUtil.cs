// Holds: helpers for the checkpoint IO tests: a scratch folder, raw tensor bytes, hand-written
// safetensors files and a tiny pickle assembler (no Python/torch at test time, so pickles are built by hand
// from the opcode table in CPython's pickletools documentation).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.IO;

/// <summary>A fresh temporary folder deleted on dispose.</summary>
public sealed class ScratchFolder : IDisposable
{
    /// <summary>Creates the folder.</summary>
    public ScratchFolder()
    {
        FolderPath = Path.Combine(Path.GetTempPath(), "aim-io-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(FolderPath);
    }

    /// <summary>The folder.</summary>
    public string FolderPath { get; }

    /// <summary>A file path inside the folder.</summary>
    public string File(string name) => Path.Combine(FolderPath, name);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(FolderPath, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}

/// <summary>Byte-level helpers.</summary>
public static class IOTestUtil
{
    /// <summary>The elements of <paramref name="t"/> as raw bytes in row-major order.</summary>
    public static byte[] RawBytes(Tensor t)
    {
        using var dense = t.IsContiguous ? null : t.Contiguous();
        var src = dense ?? t;
        var bytes = new byte[src.Count * src.DType.SizeOf()];
        if (bytes.Length > 0) Marshal.Copy(src.DataPointer, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>Writes a safetensors file from a literal header (not padded) and data bytes.</summary>
    public static void WriteRawSafetensors(string path, string headerJson, byte[] data, ulong? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        using var fs = System.IO.File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, declaredLength ?? (ulong)header.Length);
        fs.Write(len);
        fs.Write(header);
        fs.Write(data);
    }

    /// <summary>Writes a torch.save-style zip: <c>archive/data.pkl</c>, <c>archive/data/KEY</c>, optional byteorder.</summary>
    public static void WriteTorchZip(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null, string? byteorder = null, string archive = "archive")
    {
        using var fs = System.IO.File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        void Add(string name, byte[] content)
        {
            var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(content);
        }
        Add($"{archive}/data.pkl", pickle);
        if (byteorder is not null) Add($"{archive}/byteorder", Encoding.ASCII.GetBytes(byteorder));
        foreach (var (k, v) in storages ?? new Dictionary<string, byte[]>()) Add($"{archive}/data/{k}", v);
        Add($"{archive}/version", "3\n"u8.ToArray());
    }

    /// <summary>Little-endian bytes of an array of unmanaged values.</summary>
    public static byte[] Bytes<T>(params T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}

/// <summary>Assembles pickle opcodes (protocol 2 plus the protocol 4 ones torch may use).</summary>
public sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    /// <summary>The bytes so far.</summary>
    public byte[] ToArray() => [.. _bytes];

    /// <summary>Appends a raw opcode byte (and optional argument bytes).</summary>
    public PickleBuilder Op(byte op, params byte[] args)
    {
        _bytes.Add(op);
        _bytes.AddRange(args);
        return this;
    }

    /// <summary>PROTO n.</summary>
    public PickleBuilder Proto(byte n = 2) => Op(0x80, n);

    /// <summary>GLOBAL 'module name'.</summary>
    public PickleBuilder Global(string module, string name) => Op((byte)'c', Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    /// <summary>MARK.</summary>
    public PickleBuilder Mark() => Op((byte)'(');

    /// <summary>BINUNICODE.</summary>
    public PickleBuilder Str(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)b.Length);
        return Op((byte)'X', [.. len, .. b]);
    }

    /// <summary>SHORT_BINUNICODE (protocol 4).</summary>
    public PickleBuilder ShortStr(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        return Op(0x8c, [(byte)b.Length, .. b]);
    }

    /// <summary>BININT1 / BININT2 / BININT as the value needs.</summary>
    public PickleBuilder Int(int v)
    {
        if (v is >= 0 and < 256) return Op((byte)'K', (byte)v);
        if (v is >= 0 and < 65536) return Op((byte)'M', (byte)v, (byte)(v >> 8));
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Op((byte)'J', b);
    }

    /// <summary>A tuple of ints: MARK ints TUPLE.</summary>
    public PickleBuilder IntTuple(params int[] values)
    {
        Mark();
        foreach (int v in values) Int(v);
        return Op((byte)'t');
    }

    /// <summary>TUPLE.</summary>
    public PickleBuilder Tuple() => Op((byte)'t');

    /// <summary>TUPLE1.</summary>
    public PickleBuilder Tuple1() => Op(0x85);

    /// <summary>EMPTY_TUPLE.</summary>
    public PickleBuilder EmptyTuple() => Op((byte)')');

    /// <summary>EMPTY_DICT.</summary>
    public PickleBuilder EmptyDict() => Op((byte)'}');

    /// <summary>REDUCE.</summary>
    public PickleBuilder Reduce() => Op((byte)'R');

    /// <summary>BUILD.</summary>
    public PickleBuilder Build() => Op((byte)'b');

    /// <summary>SETITEM.</summary>
    public PickleBuilder SetItem() => Op((byte)'s');

    /// <summary>SETITEMS.</summary>
    public PickleBuilder SetItems() => Op((byte)'u');

    /// <summary>NEWFALSE.</summary>
    public PickleBuilder False() => Op(0x89);

    /// <summary>BINPUT i.</summary>
    public PickleBuilder Put(byte i) => Op((byte)'q', i);

    /// <summary>BINGET i.</summary>
    public PickleBuilder Get(byte i) => Op((byte)'h', i);

    /// <summary>STOP.</summary>
    public PickleBuilder Stop() => Op((byte)'.');

    /// <summary>
    /// A tensor exactly as torch.save writes it: GLOBAL _rebuild_tensor_v2, MARK, persistent id
    /// ('storage', torch.&lt;type&gt;, key, 'cpu', numel) BINPERSID, offset, size, stride, False, OrderedDict() , TUPLE, REDUCE.
    /// </summary>
    public PickleBuilder Tensor(string storageType, string key, int numel, int offset, int[] size, int[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Tuple().Op((byte)'Q');
        Int(offset).IntTuple(size).IntTuple(stride).False();
        Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }
}

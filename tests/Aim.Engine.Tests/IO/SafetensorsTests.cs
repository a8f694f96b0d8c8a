// Holds: safetensors reader/writer tests: round trips for every dtype, mapping lifetime, atomic replace,
// widened dtypes (F16/BOOL/U8/I8) and the validation errors for damaged files.
using System.Buffers.Binary;
using System.Text;
using Aim.Engine.IO;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.IO;

public sealed class SafetensorsTests : IDisposable
{
    private readonly ScratchFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void RoundTripsEveryDTypeLayoutAndMetadata()
    {
        string path = _dir.File("all.safetensors");
        using var f32 = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var f32t = Ops.Transpose(f32, 0, 1); // non-contiguous (3, 2)
        using var f64 = Tensor.FromArray(new double[] { 0.1, -2.5, double.MaxValue, 1e-300, 7, 8, 9 }, [7]);
        using var bf16 = Tensor.FromArray(new[] { BFloat16.FromSingle(1.5f), BFloat16.FromSingle(-3f), BFloat16.FromBits(0x7FC0), BFloat16.FromSingle(0) }, [2, 2]);
        using var i32 = Tensor.FromArray(new[] { int.MinValue, -1, int.MaxValue }, [3, 1]);
        using var i64 = Tensor.FromArray(new[] { long.MinValue + 3 }, []);
        using var empty = Tensor.Zeros([0, 5]);
        var tensors = new Dictionary<string, Tensor>
        {
            ["z.f32t"] = f32t, ["a.f64"] = f64, ["m.bf16"] = bf16, ["b.i32"] = i32, ["scalar"] = i64, ["empty"] = empty,
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };
        SafetensorsWriter.Write(path, tensors, metadata);

        Assert.Single(Directory.GetFiles(_dir.FolderPath)); // no temp file left behind
        byte[] raw = File.ReadAllBytes(path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0UL, headerLength % 8);
        string header = Encoding.UTF8.GetString(raw, 8, (int)headerLength);
        Assert.StartsWith("{", header, StringComparison.Ordinal);
        Assert.EndsWith("}", header.TrimEnd(' '), StringComparison.Ordinal);
        Assert.True(header.TrimEnd(' ').Length > header.Length - 8);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name)); // sorted name order on disk
        foreach (var (name, expected) in tensors)
        {
            using var got = file.Read(name);
            Assert.Equal(expected.DType, got.DType);
            Assert.Equal(expected.Shape.ToArray(), got.Shape.ToArray());
            Assert.True(got.IsContiguous);
            Assert.Equal(IOTestUtil.RawBytes(expected), IOTestUtil.RawBytes(got));
        }
        Assert.Equal("F32", file.Entry("z.f32t").FileDType);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, file.Read("z.f32t").ToArray<float>());
    }

    [Fact]
    public void TensorsBorrowTheMappingUntilTheLastOneIsDisposed()
    {
        string path = _dir.File("m.safetensors");
        using (var a = Tensor.FromArray(new float[] { 1, 2, 3 }))
        using (var b = Tensor.FromArray(new long[] { 4, 5 }, [2]))
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });

        Tensor ta, tb;
        using (var file = SafetensorsFile.Open(path))
        {
            ta = file.Read("a");
            tb = file.Read("b");
        }
        Assert.IsType<BorrowedCpuStorage>(ta.StorageOrThrow);
        var sa = ta.StorageOrThrow;
        var sb = tb.StorageOrThrow;

        // The file is replaced atomically: the old mapping keeps the old bytes.
        using (var c = Tensor.FromArray(new float[] { 9, 9, 9 }))
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = c });
        Assert.Equal(new float[] { 1, 2, 3 }, ta.ToArray<float>());
        Assert.Equal(new long[] { 4, 5 }, tb.ToArray<long>());

        // Copy-on-write: writing into a loaded tensor never touches the file.
        ta.AsSpan<float>()[0] = 42;
        Assert.Equal(42, ta.ToArray<float>()[0]);

        ta.Dispose();
        Assert.True(sa.IsReleased);
        Assert.Equal(new long[] { 4, 5 }, tb.ToArray<long>());
        tb.Dispose();
        Assert.True(sb.IsReleased);

        using var reread = SafetensorsFile.Load(path);
        Assert.Equal(new float[] { 9, 9, 9 }, reread["a"].ToArray<float>());
    }

    [Fact]
    public void LoadedTensorsAreNotOwnedByAnOpenScope()
    {
        string path = _dir.File("s.safetensors");
        using (var a = Tensor.FromArray(new float[] { 1, 2 }))
            SafetensorsWriter.Write(path, [new("a", a)]);
        StateDict sd;
        using (TensorScope.Open())
            sd = SafetensorsFile.Load(path);
        using (sd)
            Assert.Equal(new float[] { 1, 2 }, sd["a"].ToArray<float>());
    }

    [Fact]
    public void WidensF16AndSmallIntegerTypes()
    {
        string path = _dir.File("w.safetensors");
        var halves = new[] { (Half)1.5f, (Half)(-0.25f), Half.PositiveInfinity, (Half)65504f };
        byte[] f16 = IOTestUtil.Bytes(halves.Select(BitConverter.HalfToUInt16Bits).ToArray());
        byte[] data = [.. f16, 0, 1, 2, 200, 255, 0x80, 0x7F, 5, 0];
        IOTestUtil.WriteRawSafetensors(path,
            """{"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[3],"data_offsets":[8,11]},"u":{"dtype":"U8","shape":[2],"data_offsets":[11,13]},"i":{"dtype":"I8","shape":[2],"data_offsets":[13,15]},"__metadata__":{"k":"v"}}""",
            [.. data, 0, 0]);
        using var sd = SafetensorsFile.Load(path);
        Assert.Equal(DType.Float32, sd["h"].DType);
        Assert.Equal(halves.Select(h => (float)h).ToArray(), sd["h"].ToArray<float>());
        Assert.Equal(new[] { 0, 1, 1 }, sd["b"].ToArray<int>());
        Assert.Equal(new[] { 200, 255 }, sd["u"].ToArray<int>());
        Assert.Equal(new[] { -128, 127 }, sd["i"].ToArray<int>());
        Assert.Equal("v", sd.Metadata["k"]);
        Assert.Equal(["h", "b", "u", "i"], sd.Names);
    }

    [Fact]
    public void WriterRejectsDuplicateAndReservedNamesWithoutLeavingFiles()
    {
        using var a = Tensor.FromArray(new float[] { 1 });
        string path = _dir.File("bad.safetensors");
        var ex = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("x", a), new("x", a)]));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("__metadata__", a)]));
        Assert.Empty(Directory.GetFiles(_dir.FolderPath));
    }

    public static TheoryData<string, string, int, string[]> DamagedFiles() => new()
    {
        // name, header, data bytes, fragments the message must contain
        { "bad-json", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", 4, ["not valid JSON"] },
        { "past-end", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 12, ["'w'", "past the end"] },
        { "mis-sized", """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 16, ["'w'", "needs 16"] },
        { "overlap", """{"p":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"q":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, ["'p'", "'q'", "overlap"] },
        { "unknown-dtype", """{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}""", 1, ["'w'", "'Q7'"] },
        { "negative-shape", """{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, ["'w'", "shape"] },
        { "reversed-offsets", """{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, ["'w'", "begin <= end"] },
        { "not-an-object", """[1,2]""", 0, ["not a JSON object"] },
        { "bad-metadata", """{"__metadata__":{"a":1}}""", 0, ["__metadata__", "'a'"] },
        { "trailing-garbage", """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x""", 4, ["after the JSON"] },
    };

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void DamagedHeadersGiveClearErrors(string name, string header, int dataBytes, string[] fragments)
    {
        string path = _dir.File(name + ".safetensors");
        IOTestUtil.WriteRawSafetensors(path, header, new byte[dataBytes]);
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        foreach (string f in fragments) Assert.Contains(f, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedFilesGiveClearErrors()
    {
        string path = _dir.File("t.safetensors");
        using (var a = Tensor.FromArray(new float[] { 1, 2, 3, 4 }))
            SafetensorsWriter.Write(path, [new("weights", a)]);
        byte[] full = File.ReadAllBytes(path);

        File.WriteAllBytes(path, full[..^4]); // data cut short
        var ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("'weights'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("past the end", ex.Message, StringComparison.Ordinal);

        File.WriteAllBytes(path, full[..20]); // header cut short
        ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("larger than", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);

        File.WriteAllBytes(path, full[..5]); // not even the length
        ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("too short", ex.Message, StringComparison.Ordinal);

        IOTestUtil.WriteRawSafetensors(path, "{}", [], declaredLength: 1UL << 40); // length field lies
        ex = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("larger than", ex.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(_dir.File("nope.safetensors")));
        Assert.Contains("nope.safetensors", missing.Message, StringComparison.Ordinal);
    }
}

// Holds: torch.save zip reader tests on hand-assembled pickles: tensor views (offset/size/stride),
// shared storages, widened storage types, nested dicts, and refusal of every non-allow-listed global
// (checked for side effects: the refused payloads would create a marker file if anything ran them).
using Aim.Engine.IO;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.IO;

public sealed class TorchCheckpointTests : IDisposable
{
    private readonly ScratchFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>{"model": OrderedDict(w, wt (a strided view of w's storage), h (half), ids (long), p (parameter))} with _metadata.</summary>
    private static byte[] StateDictPickle(bool nested)
    {
        var p = new PickleBuilder().Proto();
        if (nested) p.EmptyDict().Put(0).Str("model");
        p.Global("collections", "OrderedDict").Put(1).EmptyTuple().Reduce().Put(2);
        p.Mark();
        p.Str("w").Tensor("FloatStorage", "0", 12, 0, [3, 4], [4, 1]);
        p.Str("wt").Tensor("FloatStorage", "0", 12, 1, [4, 2], [1, 4]);
        p.Str("h").Tensor("HalfStorage", "1", 2, 0, [2], [1]);
        p.Str("ids").Tensor("LongStorage", "2", 3, 1, [2], [1]);
        p.Str("p").Global("torch._utils", "_rebuild_parameter");
        p.Mark().Tensor("IntStorage", "3", 1, 0, [], []).Op(0x88).EmptyDict().Tuple().Reduce();
        p.SetItems();
        // state_dict._metadata = {"": {"version": 1}} restored through BUILD
        p.EmptyDict().Str("_metadata").Get(1).EmptyTuple().Reduce().Str("").EmptyDict().Str("version").Int(1).SetItem().SetItem().SetItem().Build();
        if (nested) p.SetItem();
        return p.Stop().ToArray();
    }

    private static Dictionary<string, byte[]> Storages() => new()
    {
        ["0"] = IOTestUtil.Bytes(Enumerable.Range(0, 12).Select(i => (float)i).ToArray()),
        ["1"] = IOTestUtil.Bytes(BitConverter.HalfToUInt16Bits((Half)1.5f), BitConverter.HalfToUInt16Bits((Half)(-2f))),
        ["2"] = IOTestUtil.Bytes(10L, 20L, 30L),
        ["3"] = IOTestUtil.Bytes(7),
    };

    [Fact]
    public void ReadsViewsSharedStoragesAndNestedDicts()
    {
        string path = _dir.File("ckpt.pt");
        IOTestUtil.WriteTorchZip(path, StateDictPickle(nested: true), Storages(), byteorder: "little");

        using var ckpt = TorchCheckpoint.Open(path);
        var model = ckpt.Root.AsDict("root")["model"].AsDict("model");
        Assert.Equal(["w", "wt", "h", "ids", "p"], model.StringKeys());
        Assert.Equal(1, model.Attributes["_metadata"].AsDict("_metadata")[""].AsDict("v")["version"].AsInt("version"));

        using var sd = ckpt.GetStateDict("model");
        Assert.Equal(["w", "wt", "h", "ids", "p"], sd.Names);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), sd["w"].ToArray<float>());
        Assert.Equal([4, 2], sd["wt"].Shape.ToArray());
        Assert.Equal(new float[] { 1, 5, 2, 6, 3, 7, 4, 8 }, sd["wt"].ToArray<float>()); // element [i,j] = storage[1 + i + 4j]
        Assert.Same(sd["w"].StorageOrThrow, sd["wt"].StorageOrThrow);
        Assert.Equal(DType.Float32, sd["h"].DType);
        Assert.Equal(new[] { 1.5f, -2f }, sd["h"].ToArray<float>());
        Assert.Equal(new long[] { 20, 30 }, sd["ids"].ToArray<long>());
        Assert.Equal(DType.Int32, sd["p"].DType);
        Assert.Equal(0, sd["p"].Rank);
        Assert.Equal(new[] { 7 }, sd["p"].ToArray<int>());

        // Lifetimes: the state dict's views outlive the checkpoint; the storage goes with the last view.
        var shared = sd["w"].StorageOrThrow;
        ckpt.Dispose();
        Assert.False(shared.IsReleased);
        sd["w"].Dispose();
        Assert.False(shared.IsReleased);
        sd["wt"].Dispose();
        Assert.True(shared.IsReleased);
    }

    [Fact]
    public void FlatStateDictLoadsThroughCheckpointReader()
    {
        string path = _dir.File("pytorch_model.bin");
        IOTestUtil.WriteTorchZip(path, StateDictPickle(nested: false), Storages(), archive: "pytorch_model");
        Assert.Equal(CheckpointFormat.TorchZip, CheckpointReader.DetectFormat(path));
        using var sd = CheckpointReader.Load(path);
        Assert.Equal(5, sd.Count);
        Assert.Equal(new long[] { 20, 30 }, sd["ids"].ToArray<long>());
    }

    [Fact]
    public void NestedDictWithoutKeyPathNamesTheKey()
    {
        string path = _dir.File("ckpt.pt");
        IOTestUtil.WriteTorchZip(path, StateDictPickle(nested: true), Storages());
        var ex = Assert.Throws<InvalidDataException>(() => CheckpointReader.Load(path));
        Assert.Contains("'model'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("key path", ex.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<KeyNotFoundException>(() => CheckpointReader.Load(path, "ema"));
        Assert.Contains("'ema'", missing.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- refusals

    public static TheoryData<string, string> ForbiddenGlobals() => new()
    {
        { "os", "system" },
        { "posix", "system" },
        { "builtins", "eval" },
        { "builtins", "exec" },
        { "subprocess", "Popen" },
        { "torch", "load" },
        { "torch._utils", "_rebuild_device_tensor_from_numpy" },
        { "torch.nn.modules.linear", "Linear" },
        { "collections", "OrderedDictX" },
    };

    [Theory]
    [MemberData(nameof(ForbiddenGlobals))]
    public void RefusesGlobalsOutsideTheAllowList(string module, string name)
    {
        string marker = _dir.File($"pwned-{module}-{name}");
        string path = _dir.File("evil.pt");
        // module.name("touch marker") / module.name("open('marker','w')"): would create the marker if run.
        string arg = module == "builtins" ? $"open('{marker}', 'w')" : $"touch {marker}";
        var p = new PickleBuilder().Proto().Global(module, name).Str(arg).Tuple1().Reduce().Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray());

        var ex = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path));
        Assert.Contains($"refuses global '{module}.{name}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void RefusesStackGlobalInstAndNonCallableReduce()
    {
        string marker = _dir.File("pwned");
        string path = _dir.File("evil.pt");

        // Protocol 4 STACK_GLOBAL naming os.system.
        var p = new PickleBuilder().Proto(4).ShortStr("os").ShortStr("system").Op(0x93).ShortStr($"touch {marker}").Tuple1().Reduce().Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray());
        Assert.Contains("refuses global 'os.system'", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        // INST ('i') carries its own module/name and instantiates: never supported.
        p = new PickleBuilder().Proto().Mark().Str($"touch {marker}").Op((byte)'i', "os\nsystem\n"u8.ToArray()).Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray());
        Assert.Contains("unsupported pickle opcode", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        // A storage type is a tag for persistent ids, not a callable.
        p = new PickleBuilder().Proto().Global("torch", "FloatStorage").EmptyTuple().Reduce().Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray());
        Assert.Contains("REDUCE refuses to call global 'torch.FloatStorage'", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        // Calling a string or a dict is refused too.
        p = new PickleBuilder().Proto().Str("os.system").Str($"touch {marker}").Tuple1().Reduce().Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray());
        Assert.Contains("REDUCE refuses to call", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void InconsistentArchivesGiveClearErrors()
    {
        string path = _dir.File("bad.pt");
        byte[] pkl = StateDictPickle(nested: false);

        IOTestUtil.WriteTorchZip(path, pkl, Storages(), byteorder: "big");
        Assert.Contains("byteorder 'big'", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        var storages = Storages();
        storages.Remove("2");
        IOTestUtil.WriteTorchZip(path, pkl, storages);
        Assert.Contains("archive/data/2", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        storages = Storages();
        storages["0"] = new byte[40];
        IOTestUtil.WriteTorchZip(path, pkl, storages);
        Assert.Contains("need 48", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        // A view reaching past its storage: offset 1, size (3, 4), stride (4, 1) needs 13 elements of 12.
        var p = new PickleBuilder().Proto().Tensor("FloatStorage", "0", 12, 1, [3, 4], [4, 1]).Stop();
        IOTestUtil.WriteTorchZip(path, p.ToArray(), Storages());
        var ex = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path));
        Assert.Contains("reaches element 12", ex.Message, StringComparison.Ordinal);

        // Truncated pickle.
        IOTestUtil.WriteTorchZip(path, pkl[..^10], Storages());
        Assert.Contains("truncated pickle", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);

        // Not a zip / no data.pkl.
        File.WriteAllBytes(path, [0x80, 0x02, (byte)'N', (byte)'.']);
        Assert.Contains("legacy", Assert.Throws<InvalidDataException>(() => CheckpointReader.DetectFormat(path)).Message, StringComparison.Ordinal);
        Assert.Contains("not a zip", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path)).Message, StringComparison.Ordinal);
        File.WriteAllBytes(path, "hello world"u8.ToArray());
        Assert.Contains("neither safetensors nor", Assert.Throws<InvalidDataException>(() => CheckpointReader.DetectFormat(path)).Message, StringComparison.Ordinal);
    }
}

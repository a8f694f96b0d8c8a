// Holds: a restricted pickle decoder for torch.save's data.pkl. Opcode meanings follow CPython's
// Lib/pickletools.py documentation (protocols 0-5 data opcodes). Globals are checked against a fixed
// allow-list the moment they are read; allow-listed callables are applied by pure C# data builders.
using System.Buffers.Binary;
using System.Text;
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>
/// Decodes a pickle into a <see cref="PickleValue"/> tree. Nothing is ever executed or instantiated by
/// name: GLOBAL / STACK_GLOBAL accept only the globals torch.save emits for a state_dict
/// (<c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c>, <c>torch._utils._rebuild_parameter</c>
/// and the typed storage classes as persistent-id tags) and throw <see cref="InvalidDataException"/> for any
/// other name before decoding continues. REDUCE applies only the allow-listed callables, as data builders.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private enum GlobalKind
    {
        OrderedDict,
        RebuildTensorV2,
        RebuildParameter,
        StorageType,
    }

    private static readonly Dictionary<string, GlobalKind> s_allowed = new(StringComparer.Ordinal)
    {
        ["collections.OrderedDict"] = GlobalKind.OrderedDict,
        ["torch._utils._rebuild_tensor_v2"] = GlobalKind.RebuildTensorV2,
        ["torch._utils._rebuild_parameter"] = GlobalKind.RebuildParameter,
    };

    /// <summary>Typed storage classes torch.save names in persistent ids, with their element type.</summary>
    private static readonly Dictionary<string, FileElement> s_storageTypes = new(StringComparer.Ordinal)
    {
        ["torch.FloatStorage"] = FileElement.F32,
        ["torch.DoubleStorage"] = FileElement.F64,
        ["torch.HalfStorage"] = FileElement.F16,
        ["torch.BFloat16Storage"] = FileElement.BF16,
        ["torch.IntStorage"] = FileElement.I32,
        ["torch.LongStorage"] = FileElement.I64,
        ["torch.ShortStorage"] = FileElement.I16,
        ["torch.CharStorage"] = FileElement.I8,
        ["torch.ByteStorage"] = FileElement.U8,
        ["torch.BoolStorage"] = FileElement.Bool,
    };

    /// <summary>Loads storage <c>key</c> of the given element type and element count (the persistent-id callback).</summary>
    public delegate PickleStorage StorageLoader(string key, FileElement element, long elementCount, string location);

    /// <summary>Makes a tensor view of a storage (the checkpoint tracks ownership).</summary>
    public delegate Tensor TensorFactory(PickleStorage storage, long offset, int[] size, long[] stride);

    private readonly byte[] _data;
    private readonly string _source;
    private readonly StorageLoader _loadStorage;
    private readonly TensorFactory _makeTensor;
    private readonly List<PickleValue> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, PickleValue> _memo = [];
    private int _pos;

    public RestrictedUnpickler(byte[] data, string source, StorageLoader loadStorage, TensorFactory makeTensor)
    {
        _data = data;
        _source = source;
        _loadStorage = loadStorage;
        _makeTensor = makeTensor;
    }

    /// <summary>The global names accepted (callables and storage tags).</summary>
    public static IEnumerable<string> AllowedGlobals => s_allowed.Keys.Concat(s_storageTypes.Keys);

    /// <summary>Decodes the whole pickle and returns the value STOP leaves on the stack.</summary>
    public PickleValue Load()
    {
        while (true)
        {
            int at = _pos;
            try
            {
                if (Step(at) is { } result) return result;
            }
            catch (InvalidDataException ex) when (!ex.Message.StartsWith(_source, StringComparison.Ordinal))
            {
                throw Bad(at, ex.Message, ex);
            }
        }
    }

    /// <summary>Executes the opcode at <paramref name="at"/>; returns the result at STOP, else null.</summary>
    private PickleValue? Step(int at)
    {
        byte op = ReadByte();
        switch (op)
        {
            case 0x80: // PROTO
                int proto = ReadByte();
                if (proto > 5) throw Bad(at, $"pickle protocol {proto} is not supported");
                break;
            case 0x95: // FRAME: length of the next frame; frames are only a read-ahead hint
                Take(8);
                break;
            case (byte)'.': // STOP
                if (_marks.Count != 0 || _stack.Count != 1) throw Bad(at, $"STOP with {_stack.Count} values and {_marks.Count} marks on the stack");
                return _stack[0];
            case (byte)'(': _marks.Push(_stack.Count); break; // MARK
            case (byte)'0': Pop(at); break; // POP
            case (byte)'1': PopMark(at); break; // POP_MARK
            case (byte)'2': Push(Peek(at)); break; // DUP
            case (byte)'N': Push(PickleNone.Instance); break;
            case 0x88: Push(new PickleBool(true)); break; // NEWTRUE
            case 0x89: Push(new PickleBool(false)); break; // NEWFALSE
            case (byte)'J': Push(new PickleInt(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // BININT
            case (byte)'K': Push(new PickleInt(ReadByte())); break; // BININT1
            case (byte)'M': Push(new PickleInt(BinaryPrimitives.ReadUInt16LittleEndian(Take(2)))); break; // BININT2
            case 0x8a: Push(ReadLong(at, ReadByte())); break; // LONG1
            case 0x8b: Push(ReadLong(at, ReadLength(at, BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // LONG4
            case (byte)'G': Push(new PickleFloat(BinaryPrimitives.ReadDoubleBigEndian(Take(8)))); break; // BINFLOAT
            case (byte)'X': Push(new PickleString(Utf8(at, Take(ReadLength(at, BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))))); break; // BINUNICODE
            case 0x8c: Push(new PickleString(Utf8(at, Take(ReadByte())))); break; // SHORT_BINUNICODE
            case 0x8d: Push(new PickleString(Utf8(at, Take(ReadLength(at, BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))))); break; // BINUNICODE8
            case (byte)'T': Push(new PickleString(Encoding.Latin1.GetString(Take(ReadLength(at, BinaryPrimitives.ReadInt32LittleEndian(Take(4))))))); break; // BINSTRING
            case (byte)'U': Push(new PickleString(Encoding.Latin1.GetString(Take(ReadByte())))); break; // SHORT_BINSTRING
            case (byte)'B': Push(new PickleBytes(Take(ReadLength(at, BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray())); break; // BINBYTES
            case (byte)'C': Push(new PickleBytes(Take(ReadByte()).ToArray())); break; // SHORT_BINBYTES
            case 0x8e: Push(new PickleBytes(Take(ReadLength(at, BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))).ToArray())); break; // BINBYTES8
            case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
            case (byte)']': Push(new PickleList()); break; // EMPTY_LIST
            case (byte)')': Push(new PickleTuple([])); break; // EMPTY_TUPLE
            case (byte)'t': Push(new PickleTuple(PopMark(at))); break; // TUPLE
            case 0x85: Push(new PickleTuple([Pop(at)])); break; // TUPLE1
            case 0x86: { var b = Pop(at); var a = Pop(at); Push(new PickleTuple([a, b])); break; } // TUPLE2
            case 0x87: { var c = Pop(at); var b = Pop(at); var a = Pop(at); Push(new PickleTuple([a, b, c])); break; } // TUPLE3
            case (byte)'l': { var l = new PickleList(); l.Mutable.AddRange(PopMark(at)); Push(l); break; } // LIST
            case (byte)'d': Push(SetItems(at, new PickleDict(), PopMark(at))); break; // DICT
            case (byte)'s': { var v = Pop(at); var k = Pop(at); Target<PickleDict>(at, "SETITEM").Set(k, v); break; } // SETITEM
            case (byte)'u': { var items = PopMark(at); SetItems(at, Target<PickleDict>(at, "SETITEMS"), items); break; } // SETITEMS
            case (byte)'a': { var v = Pop(at); Target<PickleList>(at, "APPEND").Mutable.Add(v); break; } // APPEND
            case (byte)'e': { var items = PopMark(at); Target<PickleList>(at, "APPENDS").Mutable.AddRange(items); break; } // APPENDS
            case (byte)'q': _memo[ReadByte()] = Peek(at); break; // BINPUT
            case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(at); break; // LONG_BINPUT
            case 0x94: _memo[_memo.Count] = Peek(at); break; // MEMOIZE
            case (byte)'h': Push(Get(at, ReadByte())); break; // BINGET
            case (byte)'j': Push(Get(at, BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
            case (byte)'c': // GLOBAL "module\nname\n"
            {
                string module = ReadLine(at);
                string name = ReadLine(at);
                Push(CheckGlobal(at, module, name));
                break;
            }
            case 0x93: // STACK_GLOBAL
            {
                var name = Pop(at);
                var module = Pop(at);
                if (module is not PickleString m || name is not PickleString n)
                    throw Bad(at, $"STACK_GLOBAL needs two str, got {module.Describe()} and {name.Describe()}");
                Push(CheckGlobal(at, m.Value, n.Value));
                break;
            }
            case (byte)'R': // REDUCE
            {
                var args = Pop(at);
                var callable = Pop(at);
                Push(Reduce(at, callable, args));
                break;
            }
            case (byte)'b': // BUILD
            {
                var state = Pop(at);
                Build(at, Peek(at), state);
                break;
            }
            case (byte)'Q': Push(PersistentLoad(at, Pop(at))); break; // BINPERSID
            default:
                throw Bad(at, $"unsupported pickle opcode 0x{op:x2}{(op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : "")}");
        }
        return null;
    }

    // ---------------------------------------------------------------- globals and builders

    private PickleGlobal CheckGlobal(int at, string module, string name)
    {
        string full = $"{module}.{name}";
        if (s_allowed.ContainsKey(full) || s_storageTypes.ContainsKey(full)) return new PickleGlobal(module, name);
        throw Bad(at, $"refuses global '{full}': only the torch.save state_dict globals are allowed ({string.Join(", ", AllowedGlobals)})");
    }

    private PickleValue Reduce(int at, PickleValue callable, PickleValue args)
    {
        if (callable is not PickleGlobal g || !s_allowed.TryGetValue(g.FullName, out var kind))
            throw Bad(at, $"REDUCE refuses to call {callable.Describe()}");
        if (args is not PickleTuple a) throw Bad(at, $"REDUCE arguments for '{g.FullName}' are {args.Describe()}, expected a tuple");
        return kind switch
        {
            GlobalKind.OrderedDict => NewOrderedDict(at, a),
            GlobalKind.RebuildTensorV2 => RebuildTensor(at, a),
            GlobalKind.RebuildParameter => a.Count >= 1 && a[0] is PickleTensor t ? t
                : throw Bad(at, $"_rebuild_parameter expects (tensor, requires_grad, backward_hooks), got {a.Describe()}"),
            _ => throw Bad(at, $"REDUCE refuses to call {g.Describe()}"),
        };
    }

    private PickleDict NewOrderedDict(int at, PickleTuple a)
    {
        var d = new PickleDict();
        if (a.Count == 0) return d;
        if (a.Count == 1 && a[0] is PickleList pairs)
        {
            foreach (var p in pairs.Items)
            {
                if (p is not PickleTuple { Count: 2 } kv) throw Bad(at, $"OrderedDict item is {p.Describe()}, expected a (key, value) tuple");
                d.Set(kv[0], kv[1]);
            }
            return d;
        }
        throw Bad(at, $"OrderedDict arguments {a.Describe()} are not () or ([(key, value), ...],)");
    }

    /// <summary>_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).</summary>
    private PickleTensor RebuildTensor(int at, PickleTuple a)
    {
        if (a.Count is < 6 or > 7) throw Bad(at, $"_rebuild_tensor_v2 expects 6 or 7 arguments, got {a.Count}");
        if (a[0] is not PickleStorage storage) throw Bad(at, $"_rebuild_tensor_v2 storage argument is {a[0].Describe()}");
        long offset = a[1].AsInt("storage_offset");
        var sizeT = a[2].AsTuple("size");
        var strideT = a[3].AsTuple("stride");
        if (sizeT.Count != strideT.Count) throw Bad(at, $"_rebuild_tensor_v2 size has {sizeT.Count} dims but stride has {strideT.Count}");
        var size = new int[sizeT.Count];
        var stride = new long[sizeT.Count];
        long last = offset;
        bool empty = false;
        for (int d = 0; d < size.Length; d++)
        {
            long s = sizeT[d].AsInt($"size[{d}]");
            long st = strideT[d].AsInt($"stride[{d}]");
            if (s is < 0 or > int.MaxValue || st < 0) throw Bad(at, $"_rebuild_tensor_v2 size[{d}] = {s}, stride[{d}] = {st} out of range");
            size[d] = (int)s;
            stride[d] = st;
            if (s == 0) empty = true;
            else last = checked(last + (s - 1) * st);
        }
        if (offset < 0 || (!empty && last >= storage.ElementCount))
            throw Bad(at, $"tensor view (offset {offset}, size {Tensor.ShapeString(size)}, stride [{string.Join(", ", stride)}]) reaches element {last} of storage '{storage.Key}' which has {storage.ElementCount}");
        if (a[5] is PickleDict { Count: > 0 }) throw Bad(at, "_rebuild_tensor_v2 with backward hooks is not supported");
        return new PickleTensor(_makeTensor(storage, offset, size, stride));
    }

    private void Build(int at, PickleValue target, PickleValue state)
    {
        if (state is PickleNone) return;
        if (target is PickleDict d && state is PickleDict s)
        {
            foreach (var (k, v) in s.Entries)
                d.SetAttribute(k.AsString("BUILD attribute name"), v);
            return;
        }
        throw Bad(at, $"BUILD of {target.Describe()} with {state.Describe()} is not supported");
    }

    /// <summary>torch.save persistent id: ('storage', storage_type, key, location, numel).</summary>
    private PickleStorage PersistentLoad(int at, PickleValue pid)
    {
        if (pid is not PickleTuple { Count: 5 } t || t[0] is not PickleString { Value: "storage" })
            throw Bad(at, $"persistent id {pid.Describe()} is not ('storage', type, key, location, numel)");
        if (t[1] is not PickleGlobal g || !s_storageTypes.TryGetValue(g.FullName, out var element))
            throw Bad(at, $"persistent id names storage type {t[1].Describe()}, not a torch typed storage");
        string key = t[2].AsString("storage key");
        string location = t[3].AsString("storage location");
        long numel = t[4].AsInt("storage size");
        if (numel < 0) throw Bad(at, $"storage '{key}' has negative size {numel}");
        return _loadStorage(key, element, numel, location);
    }

    // ---------------------------------------------------------------- stack and input

    private void Push(PickleValue v) => _stack.Add(v);

    private PickleValue Pop(int at)
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Bad(at, "stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private PickleValue Peek(int at)
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Bad(at, "stack underflow");
        return _stack[^1];
    }

    private PickleValue[] PopMark(int at)
    {
        if (_marks.Count == 0) throw Bad(at, "no MARK on the stack");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private T Target<T>(int at, string op) where T : PickleValue
    {
        var v = Peek(at);
        return v as T ?? throw Bad(at, $"{op} on {v.Describe()}");
    }

    private PickleDict SetItems(int at, PickleDict d, PickleValue[] items)
    {
        if (items.Length % 2 != 0) throw Bad(at, $"odd number of items ({items.Length}) for a dict");
        for (int i = 0; i < items.Length; i += 2) d.Set(items[i], items[i + 1]);
        return d;
    }

    private PickleValue Get(int at, long index)
        => _memo.TryGetValue(index, out var v) ? v : throw Bad(at, $"memo key {index} was never stored");

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw Bad(_pos, "truncated pickle (no STOP)");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - _pos) throw Bad(_pos, $"truncated pickle: {count} bytes wanted, {_data.Length - _pos} left");
        var s = _data.AsSpan(_pos, count);
        _pos += count;
        return s;
    }

    private int ReadLength(int at, long length)
        => length >= 0 && length <= _data.Length - _pos ? (int)length : throw Bad(at, $"truncated pickle: length {length} runs past the end");

    private int ReadLength(int at, ulong length) => length <= int.MaxValue ? ReadLength(at, (long)length) : throw Bad(at, $"truncated pickle: length {length} runs past the end");

    private string ReadLine(int at)
    {
        int nl = Array.IndexOf(_data, (byte)'\n', _pos);
        if (nl < 0) throw Bad(at, "GLOBAL name is not newline-terminated");
        string s = Encoding.ASCII.GetString(_data, _pos, nl - _pos);
        _pos = nl + 1;
        return s;
    }

    private PickleInt ReadLong(int at, int n)
    {
        var bytes = Take(n);
        if (n > 8) throw Bad(at, $"integer of {n} bytes does not fit in 64 bits");
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | bytes[i];
        if (n is > 0 and < 8 && (bytes[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
        return new PickleInt(v);
    }

    private string Utf8(int at, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw Bad(at, "string is not valid UTF-8", ex);
        }
    }

    private InvalidDataException Bad(int at, string message, Exception? inner = null)
        => new($"{_source}: {message} (pickle offset {at})", inner);
}

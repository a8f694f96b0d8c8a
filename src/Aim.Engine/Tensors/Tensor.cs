using System.Runtime.CompilerServices;
using System.Text;
using Aim.Engine.Backends;

namespace Aim.Engine.Tensors;

/// <summary>
/// An n-dimensional view of a <see cref="Storage"/>: shape, strides (in elements, PyTorch order,
/// row-major), offset and dtype. Views share storage; each tensor holds one reference to it and
/// releases it on <see cref="Dispose"/>. Math lives in <see cref="Operations.Ops"/>; this type is the data.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly long[] _strides;
    private Storage? _storage;

    internal TensorScope? Scope { get; set; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Offset of element [0,...,0] in the storage, in elements.</summary>
    public long Offset { get; }

    /// <summary>Dimension sizes (PyTorch order).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Element strides per dimension.</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long Count { get; }

    /// <summary>Where the storage lives.</summary>
    public Device Device => StorageOrThrow.Device;

    /// <summary>The storage (throws once disposed).</summary>
    public Storage StorageOrThrow => _storage ?? throw new ObjectDisposedException(nameof(Tensor), $"tensor {ShapeString(_shape)} was disposed");

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _storage is null;

    /// <summary>Pointer to element [0,...,0] (host or device address).</summary>
    public nint DataPointer => StorageOrThrow.Pointer + (nint)(Offset * DType.SizeOf());

    /// <summary>True when the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (_shape[d] != 1 && _strides[d] != expected) return false;
                expected *= _shape[d];
            }
            return true;
        }
    }

    internal Tensor(Storage storage, DType dtype, int[] shape, long[] strides, long offset, bool addReference)
    {
        if (addReference) storage.AddReference();
        _storage = storage;
        DType = dtype;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        long n = 1;
        foreach (int s in shape)
        {
            if (s < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shape)}");
            n *= s;
        }
        Count = n;
        TensorScope.Register(this);
    }

    // ---------------------------------------------------------------- creation

    /// <summary>An uninitialised contiguous tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        int[] s = shape.ToArray();
        long n = ElementCount(s);
        var storage = Backend.For(device ?? Device.Cpu).Allocate(n * dtype.SizeOf(), zero: false);
        return new Tensor(storage, dtype, s, ContiguousStrides(s), 0, addReference: false);
    }

    /// <summary>A zero-filled contiguous tensor.</summary>
    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        int[] s = shape.ToArray();
        long n = ElementCount(s);
        var storage = Backend.For(device ?? Device.Cpu).Allocate(n * dtype.SizeOf(), zero: true);
        return new Tensor(storage, dtype, s, ContiguousStrides(s), 0, addReference: false);
    }

    /// <summary>A contiguous tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var t = Empty(shape, dtype, device);
        Backend.Kernels(t.Device).Fill(value, t);
        return t;
    }

    /// <summary>Copies host data into a new tensor of the given shape (and device).</summary>
    public static Tensor FromArray<T>(T[] data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
        => FromSpan<T>(data, shape, device);

    /// <summary>Copies host data into a new tensor of the given shape (and device).</summary>
    public static unsafe Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
    {
        if (ElementCount(shape) != data.Length)
            throw new ArgumentException($"{data.Length} values do not fill shape {ShapeString(shape)}");
        var t = Empty(shape, DTypeInfo.Of<T>(), device);
        fixed (T* p = data)
            Backend.For(t.Device).CopyFromHost((nint)p, t.DataPointer, (long)data.Length * sizeof(T));
        return t;
    }

    /// <summary>A 1-D float tensor.</summary>
    public static Tensor FromArray(float[] data) => FromArray(data, [data.Length]);

    /// <summary>Copies the elements to a new host array in row-major order (any layout, any device).</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeInfo.Of<T>() != DType)
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}> on a {DType.ShortName()} tensor {ShapeString(_shape)}");
        var result = new T[Count];
        using var dense = IsContiguous ? null : Contiguous();
        var src = dense ?? this;
        fixed (T* p = result)
            Backend.For(src.Device).CopyToHost(src.DataPointer, (nint)p, Count * sizeof(T));
        return result;
    }

    /// <summary>The elements as float32, converting from any dtype.</summary>
    public float[] ToFloatArray()
    {
        if (DType == DType.Float32) return ToArray<float>();
        using var f = Operations.Ops.Cast(this, DType.Float32);
        return f.ToArray<float>();
    }

    /// <summary>The single element of a one-element tensor as a double.</summary>
    public double Item()
    {
        if (Count != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {ShapeString(_shape)}");
        using var f = Operations.Ops.Cast(this, DType.Float64);
        return f.ToArray<double>()[0];
    }

    /// <summary>A span over the elements of a contiguous host tensor.</summary>
    public unsafe Span<T> AsSpan<T>() where T : unmanaged
    {
        if (Device.Kind != DeviceKind.Cpu) throw new InvalidOperationException($"AsSpan on a {Device} tensor");
        if (DTypeInfo.Of<T>() != DType) throw new InvalidOperationException($"AsSpan<{typeof(T).Name}> on a {DType.ShortName()} tensor");
        if (!IsContiguous) throw new InvalidOperationException($"AsSpan on a non-contiguous view {ShapeString(_shape)}");
        return new Span<T>((void*)DataPointer, checked((int)Count));
    }

    /// <summary>Moves (copies) to another device, keeping dtype and shape; returns a contiguous tensor.</summary>
    public Tensor To(Device device)
    {
        var src = IsContiguous ? this : Contiguous();
        var dst = Empty(_shape, DType, device);
        long bytes = Count * DType.SizeOf();
        if (src.Device.Kind == DeviceKind.Cpu)
            Backend.For(device).CopyFromHost(src.DataPointer, dst.DataPointer, bytes);
        else if (device.Kind == DeviceKind.Cpu)
            Backend.For(src.Device).CopyToHost(src.DataPointer, dst.DataPointer, bytes);
        else
            throw new NotSupportedException($"copy from {src.Device} to {device}");
        if (!ReferenceEquals(src, this)) src.Dispose();
        return dst;
    }

    /// <summary>A new view of this tensor's storage (no copy, no autograd: use the Ops view functions for that).</summary>
    internal Tensor CreateView(int[] shape, long[] strides, long offset)
        => new(StorageOrThrow, DType, shape, strides, offset, addReference: true);

    /// <summary>Another view of the same elements with the same layout.</summary>
    internal Tensor CreateViewSame() => CreateView((int[])_shape.Clone(), (long[])_strides.Clone(), Offset);

    /// <summary>Releases this view's reference to the storage. Safe to call twice.</summary>
    public void Dispose()
    {
        if (_tapeHolds > 0)
        {
            // The tape saved this tensor for a backward pass: release it when the tape lets go.
            _disposePending = true;
            return;
        }
        var s = _storage;
        if (s is null) return;
        _storage = null;
        s.Release();
        Grad?.Dispose();
    }

    // ---------------------------------------------------------------- helpers

    private int _tapeHolds;
    private bool _disposePending;

    /// <summary>Keeps the storage alive while a tape entry refers to this tensor.</summary>
    internal void HoldForTape() => _tapeHolds++;

    /// <summary>Lets go of a tape hold; performs a dispose that was asked for meanwhile.</summary>
    internal void ReleaseFromTape()
    {
        if (--_tapeHolds == 0 && _disposePending)
        {
            _disposePending = false;
            Dispose();
        }
    }

    /// <summary>Row-major strides for a shape.</summary>
    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    /// <summary>Product of the dimensions.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int s in shape) n *= s;
        return n;
    }

    /// <summary>"[2, 3, 4]".</summary>
    public static string ShapeString(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Normalises a possibly negative dimension index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Dim(int dim)
    {
        int d = dim < 0 ? dim + Rank : dim;
        if ((uint)d >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} out of range for shape {ShapeString(_shape)}");
        return d;
    }

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => _shape[Dim(dim)];

    /// <inheritdoc />
    public override string ToString() => $"Tensor({DType.ShortName()}, {ShapeString(_shape)}{(IsDisposed ? ", disposed" : $", {Device}")})";
}

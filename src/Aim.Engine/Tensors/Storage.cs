using System.Runtime.InteropServices;

namespace Aim.Engine.Tensors;

/// <summary>
/// A block of memory on one device, shared by the tensors that view it and freed when the last
/// of them is disposed (reference counted, never by a finalizer: the GC sees no device pressure).
/// </summary>
public abstract class Storage
{
    private int _references = 1;

    /// <summary>Where the bytes live.</summary>
    public abstract Device Device { get; }

    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>Host pointer (CPU) or device pointer (CUDA) to byte 0.</summary>
    public nint Pointer { get; private set; }

    /// <summary>True once the memory has been released.</summary>
    public bool IsReleased => Pointer == 0 && ByteLength > 0;

    /// <summary>Wraps an allocation this storage now owns.</summary>
    protected Storage(nint pointer, long byteLength)
    {
        Pointer = pointer;
        ByteLength = byteLength;
    }

    /// <summary>True while exactly one tensor view holds this storage.</summary>
    internal bool HasSingleReference => Volatile.Read(ref _references) == 1;

    internal void AddReference()
    {
        if (Interlocked.Increment(ref _references) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "storage was already released");
    }

    internal void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            nint p = Pointer;
            Pointer = 0;
            Free(p);
        }
    }

    /// <summary>Returns the memory to its allocator.</summary>
    protected abstract void Free(nint pointer);
}

/// <summary>Host memory, 64-byte aligned so that Vector512 loads never split a cache line at row starts.</summary>
public sealed unsafe class CpuStorage : Storage
{
    private static long s_liveBytes;

    private CpuStorage(nint pointer, long byteLength) : base(pointer, byteLength) { }

    /// <summary>Bytes of host tensor memory currently allocated (for leak tests and memory reports).</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <inheritdoc />
    public override Device Device => Device.Cpu;

    /// <summary>Allocates <paramref name="byteLength"/> bytes, zero-filled when asked.</summary>
    public static CpuStorage Allocate(long byteLength, bool zero)
    {
        long n = Math.Max(byteLength, 1);
        void* p = NativeMemory.AlignedAlloc((nuint)n, 64);
        if (zero) NativeMemory.Clear(p, (nuint)n);
        Interlocked.Add(ref s_liveBytes, n);
        return new CpuStorage((nint)p, byteLength);
    }

    /// <inheritdoc />
    protected override void Free(nint pointer)
    {
        NativeMemory.AlignedFree((void*)pointer);
        Interlocked.Add(ref s_liveBytes, -Math.Max(ByteLength, 1));
    }
}

/// <summary>Host memory owned by someone else (a memory-mapped file); disposing the owner is deferred to the last view.</summary>
public sealed class BorrowedCpuStorage : Storage
{
    private readonly IDisposable? _owner;

    /// <summary>Wraps <paramref name="pointer"/>; <paramref name="owner"/> is disposed when the last tensor lets go.</summary>
    public BorrowedCpuStorage(nint pointer, long byteLength, IDisposable? owner) : base(pointer, byteLength) => _owner = owner;

    /// <inheritdoc />
    public override Device Device => Device.Cpu;

    /// <inheritdoc />
    protected override void Free(nint pointer) => _owner?.Dispose();
}

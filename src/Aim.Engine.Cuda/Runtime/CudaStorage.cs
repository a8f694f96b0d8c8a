// Device memory owned by a tensor storage; freed back to the backend's caching allocator.
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>A block of device memory from <see cref="CudaAllocator"/>; <see cref="Storage.Pointer"/> is the device address.</summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaAllocator _allocator;

    internal CudaStorage(Device device, CudaAllocator allocator, ulong pointer, long byteLength) : base((nint)pointer, byteLength)
    {
        Device = device;
        _allocator = allocator;
    }

    /// <inheritdoc />
    public override Device Device { get; }

    /// <inheritdoc />
    protected override void Free(nint pointer) => _allocator.Free((ulong)pointer, ByteLength);
}

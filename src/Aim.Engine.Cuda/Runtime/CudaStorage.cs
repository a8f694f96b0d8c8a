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

    /// <summary>
    /// Whether this block was handed out while a CUDA graph was being recorded: kernels of that recording may write
    /// it, so a kernel must not read it before waiting for its predecessor (skinny_gemm.cu's early weight loads).
    /// </summary>
    internal bool AllocatedWhileRecording { get; init; }

    /// <inheritdoc />
    protected override void Free(nint pointer) => _allocator.Free((ulong)pointer, ByteLength);
}

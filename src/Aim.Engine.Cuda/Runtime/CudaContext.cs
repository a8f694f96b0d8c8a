// A device's primary context (shared with cuBLAS and any other library in the process) and the facts
// about the device that kernels and the compiler need (compute capability, multiprocessor count).
using System.Text;
using Aim.Engine.Cuda.Interop;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>The primary context of one CUDA device, retained on creation and released on dispose.</summary>
public sealed unsafe class CudaContext : IDisposable
{
    private bool _disposed;

    private CudaContext(int ordinal, int device, nint handle)
    {
        Ordinal = ordinal;
        Device = device;
        Handle = handle;
        int v;
        Check(cuDeviceGetAttribute(&v, AttrComputeCapabilityMajor, device));
        Major = v;
        Check(cuDeviceGetAttribute(&v, AttrComputeCapabilityMinor, device));
        Minor = v;
        Check(cuDeviceGetAttribute(&v, AttrMultiprocessorCount, device));
        MultiprocessorCount = v;
        Check(cuDeviceGetAttribute(&v, AttrMaxSharedMemoryPerBlockOptin, device));
        MaxSharedMemoryPerBlock = v;
        nuint total;
        Check(cuDeviceTotalMem(&total, device));
        TotalMemory = (long)total;
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, device));
        Name = Encoding.UTF8.GetString(name, new ReadOnlySpan<byte>(name, 256).IndexOf((byte)0) is int n and >= 0 ? n : 256);
        Check(cuDriverGetVersion(&v));
        DriverVersion = v;
    }

    /// <summary>The device ordinal as the engine numbers it (cuda:N).</summary>
    public int Ordinal { get; }

    /// <summary>The CUdevice value.</summary>
    public int Device { get; }

    /// <summary>The CUcontext value.</summary>
    public nint Handle { get; }

    /// <summary>Device name as the driver reports it (e.g. "NVIDIA H200").</summary>
    public string Name { get; }

    /// <summary>Compute capability major.</summary>
    public int Major { get; }

    /// <summary>Compute capability minor.</summary>
    public int Minor { get; }

    /// <summary>Number of streaming multiprocessors.</summary>
    public int MultiprocessorCount { get; }

    /// <summary>The most shared memory (static and dynamic) a block may use once a kernel opts in, in bytes.</summary>
    public int MaxSharedMemoryPerBlock { get; }

    /// <summary>Device memory in bytes.</summary>
    public long TotalMemory { get; }

    /// <summary>Driver version as an integer (e.g. 13000 for CUDA 13.0).</summary>
    public int DriverVersion { get; }

    /// <summary>The NVRTC architecture option value for this device ("sm_90" on an H200).</summary>
    public string Architecture => $"sm_{Major}{Minor}";

    /// <summary>Initialises the driver and retains device <paramref name="ordinal"/>'s primary context, made current on this thread.</summary>
    public static CudaContext Create(int ordinal)
    {
        Check(cuInit(0));
        int count;
        Check(cuDeviceGetCount(&count));
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device {ordinal} does not exist ({count} device(s))");
        int device;
        Check(cuDeviceGet(&device, ordinal));
        nint ctx;
        Check(cuDevicePrimaryCtxRetain(&ctx, device));
        Check(cuCtxSetCurrent(ctx));
        return new CudaContext(ordinal, device, ctx);
    }

    /// <summary>Makes the context current on the calling thread (every entry point calls this; it is cheap).</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(cuCtxSetCurrent(Handle));
    }

    /// <summary>Waits for all work in the context.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        Check(cuCtxSynchronize());
    }

    /// <summary>(free, total) device memory in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        Check(cuMemGetInfo(&free, &total));
        return ((long)free, (long)total);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Check(cuDevicePrimaryCtxRelease(Device));
    }
}

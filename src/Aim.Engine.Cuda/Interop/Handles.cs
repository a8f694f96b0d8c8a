// One SafeHandle per owned native object (ANCHORS.md 8.7, "Handles"); each ReleaseHandle calls the
// matching destroy. Driver objects make their context current first, since release can run on any thread.
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Interop;

/// <summary>A native handle that belongs to a CUDA context and is destroyed with it current.</summary>
internal abstract class CudaContextBoundHandle : SafeHandle
{
    protected CudaContextBoundHandle(nint context) : base(0, ownsHandle: true) => Context = context;

    /// <summary>The context the object was created in.</summary>
    public nint Context { get; }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Stores the native value once created.</summary>
    public void Set(nint value) => SetHandle(value);

    protected bool MakeCurrent() => Context == 0 || CudaDriver.cuCtxSetCurrent(Context) == CudaDriver.Success;
}

/// <summary>A loaded module (cuModuleLoadData / cuModuleUnload).</summary>
internal sealed class CudaModuleHandle(nint context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeCurrent() && CudaDriver.cuModuleUnload(handle) == CudaDriver.Success;
}

/// <summary>A stream (cuStreamCreate / cuStreamDestroy).</summary>
internal sealed class CudaStreamHandle(nint context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeCurrent() && CudaDriver.cuStreamDestroy(handle) == CudaDriver.Success;
}

/// <summary>An event (cuEventCreate / cuEventDestroy).</summary>
internal sealed class CudaEventHandle(nint context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeCurrent() && CudaDriver.cuEventDestroy(handle) == CudaDriver.Success;
}

/// <summary>An instantiated graph (cuGraphInstantiateWithFlags / cuGraphExecDestroy).</summary>
internal sealed class CudaGraphExecHandle(nint context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeCurrent() && CudaDriver.cuGraphExecDestroy(handle) == CudaDriver.Success;
}

/// <summary>A cuBLAS handle (cublasCreate / cublasDestroy).</summary>
internal sealed class CuBlasHandle(nint context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeCurrent() && CuBlas.cublasDestroy(handle) == CuBlas.Success;
}

/// <summary>An NVRTC program (nvrtcCreateProgram / nvrtcDestroyProgram); needs no context.</summary>
internal sealed class NvrtcProgramHandle : SafeHandle
{
    public NvrtcProgramHandle() : base(0, ownsHandle: true) { }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Stores the native value once created.</summary>
    public void Set(nint value) => SetHandle(value);

    protected override unsafe bool ReleaseHandle()
    {
        nint p = handle;
        return Nvrtc.nvrtcDestroyProgram(&p) == Nvrtc.Success;
    }
}

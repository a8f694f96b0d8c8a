// Test attributes that skip cleanly where there is no GPU (CI) or no NVRTC, with the reason in the skip text.
using Aim.Engine.Cuda.Runtime;

namespace Aim.Engine.Cuda.Tests;

/// <summary>A fact that runs only when <see cref="CudaBackend.IsAvailable"/>.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    /// <summary>Sets Skip when no CUDA device is usable.</summary>
    public CudaFactAttribute()
    {
        if (!CudaBackend.IsAvailable) Skip = "no CUDA device: " + CudaBackend.UnavailableReason;
    }
}

/// <summary>A theory that runs only when <see cref="CudaBackend.IsAvailable"/>.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets Skip when no CUDA device is usable.</summary>
    public CudaTheoryAttribute()
    {
        if (!CudaBackend.IsAvailable) Skip = "no CUDA device: " + CudaBackend.UnavailableReason;
    }
}

/// <summary>A fact that runs wherever NVRTC loads (no GPU needed).</summary>
public sealed class NvrtcFactAttribute : FactAttribute
{
    /// <summary>Sets Skip when NVRTC cannot be loaded.</summary>
    public NvrtcFactAttribute()
    {
        if (!KernelCompiler.IsNvrtcAvailable) Skip = "NVRTC not found (set AIM_CUDA_LIBS to its folder)";
    }
}

/// <summary>A theory that runs wherever NVRTC loads (no GPU needed).</summary>
public sealed class NvrtcTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets Skip when NVRTC cannot be loaded.</summary>
    public NvrtcTheoryAttribute()
    {
        if (!KernelCompiler.IsNvrtcAvailable) Skip = "NVRTC not found (set AIM_CUDA_LIBS to its folder)";
    }
}

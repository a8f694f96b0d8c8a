using Aim.Engine.Kernels.Reference;

namespace Aim.Engine.Backends.Cpu;

/// <summary>
/// The fast CPU kernels: SIMD (Vector256/Vector512) and multi-threaded. Each op family overrides the
/// reference in its own partial file for the layouts and dtypes it speeds up, and falls back to the
/// reference (base) for everything else, so both always accept the same inputs.
/// </summary>
public partial class CpuKernels : ReferenceKernels
{
    /// <inheritdoc />
    public override string Name => "cpu";
}

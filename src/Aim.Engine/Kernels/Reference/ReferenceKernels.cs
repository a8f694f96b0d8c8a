using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

/// <summary>
/// The reference implementation of every kernel: scalar loops, written to be obviously right, never
/// optimised. Every float kernel is generic over float and double so gradient checks can run in double;
/// long reductions accumulate in double. Each op family lives in its own partial file.
/// </summary>
public partial class ReferenceKernels : IKernels
{
    /// <inheritdoc />
    public virtual string Name => "reference";

    /// <summary>Throws unless <paramref name="dtype"/> is Float32 or Float64; returns true for Float64.</summary>
    protected static bool IsDouble(string op, DType dtype) => dtype switch
    {
        DType.Float32 => false,
        DType.Float64 => true,
        _ => throw KernelChecks.Unsupported(op, "reference", dtype),
    };
}

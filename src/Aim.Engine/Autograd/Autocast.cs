// Holds: the autocast scope, mixed precision for matrix products in the manner of PyTorch's torch.autocast
// (float32 master tensors, bf16 products with float32 accumulation). Ops.MatMul and Ops.Linear consult it
// (Ops.Linear.cs); every other op keeps its operands' dtype. One backend reads it too: the CUDA SSD scan runs its
// in-chunk matrix products on TF32 tensor cores inside a bf16 scope (CudaKernels.SsdMath; storage stays float32).
// Thread-local like the tape.
using Aim.Engine.Tensors;

namespace Aim.Engine.Autograd;

/// <summary>
/// Thread-local mixed-precision scope. Inside <c>using (Autocast.Enable(DType.BFloat16))</c>, <c>Ops.MatMul</c>
/// and <c>Ops.Linear</c> on two float32 operands round both operands to bf16, multiply them with float32
/// accumulation and return a float32 result; their backward products run the same way and the gradients of the
/// float32 operands come back in float32. Scopes nest; disposing one restores the setting it replaced.
/// </summary>
public static class Autocast
{
    [ThreadStatic] private static DType t_target;

    /// <summary>
    /// The dtype float32 matrix products run in on this thread: <see cref="DType.BFloat16"/> inside an enabled
    /// scope, <see cref="DType.Float32"/> (no change) otherwise.
    /// </summary>
    public static DType Target => t_target == DType.BFloat16 ? DType.BFloat16 : DType.Float32;

    /// <summary>True when float32 matrix products run in a narrower dtype on this thread.</summary>
    public static bool IsEnabled => Target != DType.Float32;

    /// <summary>
    /// Runs float32 matrix products in <paramref name="dtype"/> until the returned scope is disposed.
    /// <see cref="DType.BFloat16"/> turns mixed precision on; <see cref="DType.Float32"/> turns it off
    /// (e.g. for one product inside an enabled scope).
    /// </summary>
    public static Scope Enable(DType dtype)
    {
        if (dtype is not (DType.BFloat16 or DType.Float32))
            throw new ArgumentException($"Autocast: products can run in bf16 or f32, not {dtype.ShortName()}", nameof(dtype));
        var previous = Target;
        t_target = dtype;
        return new Scope(previous);
    }

    /// <summary>Turns mixed precision off until the returned scope is disposed (same as <c>Enable(DType.Float32)</c>).</summary>
    public static Scope Disable() => Enable(DType.Float32);

    /// <summary>Restores the setting that was in force before <see cref="Enable"/> when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly DType _previous;

        internal Scope(DType previous) => _previous = previous;

        /// <inheritdoc />
        public void Dispose() => t_target = _previous;
    }
}

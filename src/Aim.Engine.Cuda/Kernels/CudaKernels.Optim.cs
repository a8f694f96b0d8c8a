// The optimizer family (IKernels.Optim.cs) on CUDA: not implemented yet. Each method throws
// NotSupportedException naming the op, like the families in CudaKernels.Unsupported.cs.
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v) => throw Unsupported(nameof(AdamWStep));

    /// <inheritdoc />
    public void EmaUpdate(Tensor source, double decay, Tensor ema) => throw Unsupported(nameof(EmaUpdate));
}

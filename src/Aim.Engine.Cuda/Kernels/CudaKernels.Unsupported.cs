// Kernel families the CUDA backend does not implement yet. Each throws NotSupportedException naming the op,
// which the backend-ops harness reports as "unsupported on cuda" (ggml's supports_op), never as a silent fallback.
// A family moves out of this file when its .cu kernels land.
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output) => throw Unsupported(nameof(CausalConv1d));

    /// <inheritdoc />
    public void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias) => throw Unsupported(nameof(CausalConv1dBackward));

    /// <inheritdoc />
    public void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output) => throw Unsupported(nameof(CausalConv1dStep));

    /// <inheritdoc />
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor output) => throw Unsupported(nameof(Conv2d));

    /// <inheritdoc />
    public void Conv2dBackwardInput(Tensor dOutput, Tensor weight, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dInput) => throw Unsupported(nameof(Conv2dBackwardInput));

    /// <inheritdoc />
    public void Conv2dBackwardWeight(Tensor x, Tensor dOutput, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dWeight) => throw Unsupported(nameof(Conv2dBackwardWeight));

    /// <inheritdoc />
    public void L2Normalize(Tensor x, double eps, Tensor output) => throw Unsupported(nameof(L2Normalize));

    /// <inheritdoc />
    public void L2NormalizeBackward(Tensor x, Tensor dOutput, double eps, Tensor dInput) => throw Unsupported(nameof(L2NormalizeBackward));

    /// <inheritdoc />
    public void NearestCode(Tensor z, Tensor codebook, Tensor output) => throw Unsupported(nameof(NearestCode));

    /// <inheritdoc />
    public void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState) => throw Unsupported(nameof(SsdScan));

    /// <inheritdoc />
    public void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState) => throw Unsupported(nameof(SsdScanBackward));

    /// <inheritdoc />
    public void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y) => throw Unsupported(nameof(SsmStep));

    /// <inheritdoc />
    public void UpsampleNearest2x(Tensor x, Tensor output) => throw Unsupported(nameof(UpsampleNearest2x));

    /// <inheritdoc />
    public void UpsampleNearest2xBackward(Tensor dOutput, Tensor dInput) => throw Unsupported(nameof(UpsampleNearest2xBackward));

    private static NotSupportedException Unsupported(string op) => new($"{op} is not implemented on CUDA yet");
}

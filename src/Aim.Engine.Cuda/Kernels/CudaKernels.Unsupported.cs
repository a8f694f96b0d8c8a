// Kernel families the CUDA backend does not implement yet. Each throws NotSupportedException naming the op,
// which the backend-ops harness reports as "unsupported on cuda" (ggml's supports_op), never as a silent fallback.
// A family moves out of this file when its .cu kernels land.
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps, Tensor normed, Tensor residualOut) => throw Unsupported(nameof(AddRmsNorm));

    /// <inheritdoc />
    public void AddRmsNormBackward(Tensor residualOut, Tensor weight, Tensor dNormed, Tensor? dResidualOut, double eps, Tensor dSum, Tensor dWeight) => throw Unsupported(nameof(AddRmsNormBackward));

    /// <inheritdoc />
    public void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output) => throw Unsupported(nameof(CausalConv1d));

    /// <inheritdoc />
    public void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias) => throw Unsupported(nameof(CausalConv1dBackward));

    /// <inheritdoc />
    public void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output) => throw Unsupported(nameof(CausalConv1dStep));

    /// <inheritdoc />
    public void CrossEntropy(Tensor logits, Tensor targets, Tensor loss) => throw Unsupported(nameof(CrossEntropy));

    /// <inheritdoc />
    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits) => throw Unsupported(nameof(CrossEntropyBackward));

    /// <inheritdoc />
    public void Embedding(Tensor weight, Tensor ids, Tensor output) => throw Unsupported(nameof(Embedding));

    /// <inheritdoc />
    public void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight) => throw Unsupported(nameof(EmbeddingBackward));

    /// <inheritdoc />
    public void GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize, Tensor output) => throw Unsupported(nameof(GatedRmsNorm));

    /// <inheritdoc />
    public void GatedRmsNormBackward(Tensor x, Tensor z, Tensor weight, Tensor dOutput, double eps, int groupSize, Tensor dX, Tensor dZ, Tensor dWeight) => throw Unsupported(nameof(GatedRmsNormBackward));

    /// <inheritdoc />
    public void GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor output) => throw Unsupported(nameof(GroupNorm));

    /// <inheritdoc />
    public void GroupNormBackward(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight, Tensor dBias) => throw Unsupported(nameof(GroupNormBackward));

    /// <inheritdoc />
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor output) => throw Unsupported(nameof(LayerNorm));

    /// <inheritdoc />
    public void LayerNormBackward(Tensor x, Tensor? weight, Tensor dOutput, double eps, Tensor dX, Tensor? dWeight, Tensor? dBias) => throw Unsupported(nameof(LayerNormBackward));

    /// <inheritdoc />
    public void LogSoftmax(Tensor x, Tensor output) => throw Unsupported(nameof(LogSoftmax));

    /// <inheritdoc />
    public void LogSoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX) => throw Unsupported(nameof(LogSoftmaxBackward));

    /// <inheritdoc />
    public void RmsNorm(Tensor x, Tensor weight, double eps, Tensor output) => throw Unsupported(nameof(RmsNorm));

    /// <inheritdoc />
    public void RmsNormBackward(Tensor x, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight) => throw Unsupported(nameof(RmsNormBackward));

    /// <inheritdoc />
    public void Softmax(Tensor x, Tensor output) => throw Unsupported(nameof(Softmax));

    /// <inheritdoc />
    public void SoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX) => throw Unsupported(nameof(SoftmaxBackward));

    /// <inheritdoc />
    public void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState) => throw Unsupported(nameof(SsdScan));

    /// <inheritdoc />
    public void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState) => throw Unsupported(nameof(SsdScanBackward));

    /// <inheritdoc />
    public void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y) => throw Unsupported(nameof(SsmStep));

    private static NotSupportedException Unsupported(string op) => new($"{op} is not implemented on CUDA yet");
}

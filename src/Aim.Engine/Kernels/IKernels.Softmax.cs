using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: softmax and log-softmax over the last dimension (forward and backward) and the fused
// log-softmax + cross-entropy loss (forward and backward).
// Formulas: softmax(x)_i = e^(x_i - m) / Σ_j e^(x_j - m) with m = max_j x_j (the stable form);
// log_softmax(x)_i = x_i - m - ln Σ_j e^(x_j - m); softmax backward dx = y (dy - Σ dy·y);
// log-softmax backward dx = dy - e^y Σ dy; cross-entropy mean_n -log_softmax(logits_n)[t_n] with
// dLogits = (softmax - onehot(t)) / N · dLoss (PyTorch F.cross_entropy, reduction='mean').
public partial interface IKernels
{
    /// <summary>Softmax over the last dimension (max-subtracted).</summary>
    /// <param name="x">(..., V), contiguous.</param>
    /// <param name="output">(..., V).</param>
    void Softmax(Tensor x, Tensor output);

    /// <summary>Backward of <see cref="Softmax"/> from its output: dX = y · (dOutput - Σ_row dOutput · y).</summary>
    /// <param name="y">(..., V): the forward's output.</param>
    /// <param name="dOutput">(..., V).</param>
    /// <param name="dX">(..., V).</param>
    void SoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX);

    /// <summary>Log-softmax over the last dimension (max-subtracted).</summary>
    /// <param name="x">(..., V), contiguous.</param>
    /// <param name="output">(..., V).</param>
    void LogSoftmax(Tensor x, Tensor output);

    /// <summary>Backward of <see cref="LogSoftmax"/> from its output: dX = dOutput - e^y · Σ_row dOutput.</summary>
    /// <param name="y">(..., V): the forward's output.</param>
    /// <param name="dOutput">(..., V).</param>
    /// <param name="dX">(..., V).</param>
    void LogSoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX);

    /// <summary>
    /// Fused log-softmax + cross-entropy: loss[0] = (1/N) Σ_n (logsumexp(logits_n) - logits_n[targets_n]).
    /// A target outside [0, V) throws <see cref="ArgumentException"/> naming the op and the id.
    /// </summary>
    /// <param name="logits">(N, V), float.</param>
    /// <param name="targets">(N), i32 or i64.</param>
    /// <param name="loss">(1).</param>
    void CrossEntropy(Tensor logits, Tensor targets, Tensor loss);

    /// <summary>
    /// Backward of <see cref="CrossEntropy"/>: dLogits = (softmax(logits) - onehot(targets)) / N · dLoss[0].
    /// </summary>
    /// <param name="logits">(N, V).</param>
    /// <param name="targets">(N), i32 or i64.</param>
    /// <param name="dLoss">(1): the loss gradient (read on the device).</param>
    /// <param name="dLogits">(N, V).</param>
    void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits);
}

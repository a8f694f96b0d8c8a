using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the fused AdamW parameter update, the EMA weight update and the partial sums of squares behind the
// global gradient norm (optimizer family), each also over a list of tensors in one call (a GPU launches a handful of
// kernels for a whole model instead of one per parameter), and the clip scale computed where the norm lives.
// Formulas: torch.optim.AdamW (decoupled weight decay, bias-corrected moments; Loshchilov & Hutter 2019).
public partial interface IKernels
{
    /// <summary>
    /// One AdamW update in place, element by element, with g = grad · <see cref="AdamWHyper.GradScale"/>:
    /// param ← param·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    /// param ← param − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε), t = <see cref="AdamWHyper.Step"/> (≥ 1).
    /// </summary>
    /// <param name="grad">(...), contiguous, the parameter's dtype.</param>
    /// <param name="hyper">Learning rate, betas, epsilon, weight decay, step, gradient scale.</param>
    /// <param name="param">(...) like grad, updated in place.</param>
    /// <param name="m">(...) first moment, updated in place.</param>
    /// <param name="v">(...) second moment, updated in place.</param>
    void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v);

    /// <summary>Exponential moving average in place: ema ← ema + (1 − decay)·(source − ema).</summary>
    /// <param name="source">(...), contiguous.</param>
    /// <param name="decay">In [0, 1].</param>
    /// <param name="ema">(...) like source, updated in place.</param>
    void EmaUpdate(Tensor source, double decay, Tensor ema);

    /// <summary>
    /// Partial sums of squares: with n = x.Count, k = output.Count and chunk length c = ⌈n / k⌉,
    /// output[j] = Σ x_i² over i ∈ [j·c, min(n, (j+1)·c)) in row-major order (0 for an empty chunk), so Σ_j output[j] = ‖x‖².
    /// Each chunk is one independent, deterministic reduction (accumulated in double on the CPU, float32 on a GPU).
    /// Gradient clipping writes every parameter's partials into one buffer and reduces that once.
    /// </summary>
    /// <param name="x">(...), contiguous, float.</param>
    /// <param name="output">(k), k ≥ 1, contiguous, x's dtype.</param>
    void SquaredNormPartials(Tensor x, Tensor output);

    /// <summary>
    /// <see cref="AdamWStep"/> over a list of tensors: tensor i is updated exactly as
    /// <c>AdamWStep(grads[i], hypers[i] with GradScale·s, parameters[i], ms[i], vs[i])</c> would, where s =
    /// <paramref name="gradScale"/>[0] when given and 1 otherwise; the effective scale GradScale·s is formed in the
    /// compute precision (float32 on the CPU and GPU), so with GradScale = 1 (or no tensor) every element gets the same bits as
    /// the single-tensor kernel. Reading the scale from device memory lets clipping skip a host read of the norm.
    /// When <paramref name="gradScale"/>[0] is not finite (a NaN or infinite gradient norm under clipping) nothing is
    /// updated: parameters and moments keep their values, so the caller can report the step without having lost them.
    /// </summary>
    /// <param name="grads">Per tensor (...ᵢ), contiguous, all of one float dtype.</param>
    /// <param name="gradScale">Optional (1), the grads' dtype: a factor every gradient is multiplied by (e.g. from <see cref="GradClipScale"/>).</param>
    /// <param name="hypers">One per tensor (they may differ in every field).</param>
    /// <param name="parameters">Per tensor (...ᵢ) like grads[i], updated in place.</param>
    /// <param name="ms">Per tensor (...ᵢ) first moments, updated in place.</param>
    /// <param name="vs">Per tensor (...ᵢ) second moments, updated in place.</param>
    void AdamWStepMany(IReadOnlyList<Tensor> grads, Tensor? gradScale, IReadOnlyList<AdamWHyper> hypers,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> ms, IReadOnlyList<Tensor> vs);

    /// <summary>
    /// <see cref="SquaredNormPartials"/> over a list of tensors into one buffer: with o_i = Σ_{j&lt;i} counts[j],
    /// output[o_i .. o_i + counts[i]) gets exactly what <c>SquaredNormPartials(xs[i], output[o_i .. o_i + counts[i]))</c>
    /// writes (same chunks, same per-chunk reduction order, same bits).
    /// </summary>
    /// <param name="xs">Per tensor (...ᵢ), contiguous, all of output's float dtype.</param>
    /// <param name="counts">Partial count kᵢ ≥ 1 per tensor.</param>
    /// <param name="output">(Σ kᵢ), contiguous.</param>
    void SquaredNormPartialsMany(IReadOnlyList<Tensor> xs, IReadOnlyList<int> counts, Tensor output);

    /// <summary>
    /// The gradient scale of a clipped update, from a sum of squares s (e.g. the total of <see cref="SquaredNormPartialsMany"/>)
    /// without a host read: with norm = √s · |gradScale|, output[0] = gradScale · GradClip.Coefficient(norm, maxNorm)
    /// (min(1, maxNorm / (norm + 1e-6)); 1 when maxNorm ≤ 0), evaluated in double without fused multiply-adds and
    /// rounded once, so every backend gives the bits the host computes from the same s.
    /// </summary>
    /// <param name="sumOfSquares">(1), float.</param>
    /// <param name="gradScale">Factor the gradients carry before clipping (e.g. 1 / accumulation steps); finite.</param>
    /// <param name="maxNorm">Clipping threshold (≤ 0: no clipping).</param>
    /// <param name="output">(1), sumOfSquares' dtype.</param>
    void GradClipScale(Tensor sumOfSquares, double gradScale, double maxNorm, Tensor output);
}

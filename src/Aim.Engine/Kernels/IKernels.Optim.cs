using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the fused AdamW parameter update, the EMA weight update and the partial sums of squares behind the
// global gradient norm (optimizer family).
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
}

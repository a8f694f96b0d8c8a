using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the fused AdamW parameter update and the EMA weight update (optimizer family).
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
}

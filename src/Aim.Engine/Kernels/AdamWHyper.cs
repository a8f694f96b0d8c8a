// Holds: the scalar attributes of the AdamW kernel (torch.optim.AdamW's per-group settings, step and gradient scale).
namespace Aim.Engine.Kernels;

/// <summary>
/// The scalar attributes of one <see cref="IKernels.AdamWStep"/> call (torch.optim.AdamW's per-group settings plus
/// the step number and a factor the gradient is multiplied by: 1/accumulation · clip coefficient).
/// </summary>
/// <param name="Lr">Learning rate of this step.</param>
/// <param name="Beta1">First-moment decay (AiM: 0.9).</param>
/// <param name="Beta2">Second-moment decay (AiM: 0.95).</param>
/// <param name="Eps">Denominator epsilon (1e-8).</param>
/// <param name="WeightDecay">Decoupled weight decay for this tensor (0 for vectors).</param>
/// <param name="Step">1-based step number used for bias correction.</param>
/// <param name="GradScale">The gradient is multiplied by this before the update.</param>
public readonly record struct AdamWHyper(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, long Step, double GradScale)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the op and the bad attribute.</summary>
    public void Validate(string op)
    {
        if (Step < 1) throw new ArgumentException($"{op}: step must be at least 1, got {Step}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"{op}: betas ({Beta1}, {Beta2}) must lie in [0, 1)");
        if (!(Eps > 0)) throw new ArgumentException($"{op}: eps must be positive, got {Eps}");
        if (!(Lr >= 0) || !(WeightDecay >= 0)) throw new ArgumentException($"{op}: lr {Lr} and weight decay {WeightDecay} must be non-negative");
        if (!double.IsFinite(GradScale)) throw new ArgumentException($"{op}: gradient scale {GradScale} is not finite");
    }

    /// <summary>1 − β1^t.</summary>
    public double BiasCorrection1 => 1 - Math.Pow(Beta1, Step);

    /// <summary>1 − β2^t.</summary>
    public double BiasCorrection2 => 1 - Math.Pow(Beta2, Step);
}

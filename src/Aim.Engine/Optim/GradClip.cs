// Holds: global gradient-norm clipping (torch.nn.utils.clip_grad_norm_ with the L2 norm; HF Trainer's
// max_grad_norm = 1.0 in AiM, spec §7.1). The coefficient is applied inside the AdamW kernel as a gradient scale.
namespace Aim.Engine.Optim;

/// <summary>Global-norm clipping coefficient.</summary>
public static class GradClip
{
    /// <summary>
    /// min(1, maxNorm / (norm + 1e-6)) as PyTorch computes it; 1 when <paramref name="maxNorm"/> ≤ 0 (clipping off).
    /// A non-finite norm gives a non-finite coefficient, so the update turns the parameters into NaN/∞ the way
    /// PyTorch's does unless the caller checks <see cref="double.IsFinite"/> first.
    /// </summary>
    public static double Coefficient(double norm, double maxNorm)
    {
        if (maxNorm <= 0) return 1;
        double c = maxNorm / (norm + 1e-6);
        return c < 1 ? c : double.IsFinite(c) ? 1 : c;
    }

    /// <summary>
    /// The gradient scale of a clipped update from the sum of squares <paramref name="sumOfSquares"/> of gradients
    /// that still carry the factor <paramref name="gradScale"/>: gradScale · Coefficient(√s · |gradScale|, maxNorm).
    /// The formula of <see cref="Kernels.IKernels.GradClipScale"/>, which evaluates it on the device.
    /// </summary>
    public static double Scale(double sumOfSquares, double gradScale, double maxNorm)
        => gradScale * Coefficient(Norm(sumOfSquares, gradScale), maxNorm);

    /// <summary>The global norm √s · |gradScale| of gradients with sum of squares s that carry the factor gradScale.</summary>
    public static double Norm(double sumOfSquares, double gradScale) => Math.Sqrt(sumOfSquares) * Math.Abs(gradScale);
}

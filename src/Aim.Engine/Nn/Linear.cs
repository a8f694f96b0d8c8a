using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>y = x Wᵀ + b with W stored (out, in), as torch.nn.Linear.</summary>
public sealed class Linear : Module
{
    /// <summary>weight: (out, in).</summary>
    public Tensor Weight { get; }

    /// <summary>bias: (out), or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Zero-initialised parameters (callers initialise or load them).</summary>
    public Linear(int inFeatures, int outFeatures, bool bias)
    {
        Weight = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures]));
        if (bias) Bias = RegisterParameter("bias", Tensor.Zeros([outFeatures]));
    }

    /// <summary>x: (..., in) → (..., out).</summary>
    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}

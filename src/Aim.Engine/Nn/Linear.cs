using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>y = x Wᵀ + b with W stored (out, in), as torch.nn.Linear.</summary>
public sealed class Linear : Module
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;

    /// <summary>weight: (out, in).</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>bias: (out), or null.</summary>
    public Tensor? Bias => _bias?.Value;

    /// <summary>Zero-initialised parameters (callers initialise or load them).</summary>
    public Linear(int inFeatures, int outFeatures, bool bias)
    {
        _weight = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures]));
        if (bias) _bias = RegisterParameter("bias", Tensor.Zeros([outFeatures]));
    }

    /// <summary>x: (..., in) → (..., out).</summary>
    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}

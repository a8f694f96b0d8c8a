using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>RMSNorm with a weight (no bias), as mamba_ssm's RMSNorm.</summary>
public sealed class RmsNorm : Module
{
    private readonly Parameter _weight;

    /// <summary>weight: (dim).</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>Epsilon inside the square root.</summary>
    public double Eps { get; }

    /// <summary>Weight initialised to one.</summary>
    public RmsNorm(int dim, double eps)
    {
        _weight = RegisterParameter("weight", Tensor.Full([dim], 1.0));
        Eps = eps;
    }

    /// <summary>x: (..., dim).</summary>
    public Tensor Forward(Tensor x) => Ops.RmsNorm(x, Weight, Eps);
}

using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>torch.nn.GroupNorm with affine weight and bias.</summary>
public sealed class GroupNorm : Module
{
    private readonly int _groups;
    private readonly double _eps;
    private readonly Parameter _weight, _bias;

    /// <summary>weight: (C), initialised to one.</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>bias: (C), initialised to zero.</summary>
    public Tensor Bias => _bias.Value;

    /// <summary>GroupNorm(groups, channels, eps).</summary>
    public GroupNorm(int groups, int channels, double eps)
    {
        if (channels % groups != 0) throw new ArgumentException($"GroupNorm: {channels} channels do not split into {groups} groups");
        _groups = groups;
        _eps = eps;
        _weight = RegisterParameter("weight", Tensor.Full([channels], 1.0));
        _bias = RegisterParameter("bias", Tensor.Zeros([channels]));
    }

    /// <summary>x: (N, C, ...).</summary>
    public Tensor Forward(Tensor x) => Ops.GroupNorm(x, _groups, Weight, Bias, _eps);
}

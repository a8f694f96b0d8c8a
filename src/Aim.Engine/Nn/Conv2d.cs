using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>torch.nn.Conv2d with symmetric padding and bias (asymmetric padding goes through <see cref="Ops.Conv2d"/> directly).</summary>
public sealed class Conv2d : Module
{
    private readonly int _stride, _padding;
    private readonly Parameter _weight, _bias;

    /// <summary>weight: (out, in, k, k).</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>bias: (out).</summary>
    public Tensor Bias => _bias.Value;

    /// <summary>Zero-initialised parameters.</summary>
    public Conv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0)
    {
        _weight = RegisterParameter("weight", Tensor.Zeros([outChannels, inChannels, kernel, kernel]));
        _bias = RegisterParameter("bias", Tensor.Zeros([outChannels]));
        _stride = stride;
        _padding = padding;
    }

    /// <summary>x: (N, in, H, W) → (N, out, Ho, Wo).</summary>
    public Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, _stride, _padding, _padding, _padding, _padding);
}

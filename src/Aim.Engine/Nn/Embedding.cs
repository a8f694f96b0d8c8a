using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Nn;

/// <summary>A lookup table, as torch.nn.Embedding.</summary>
public sealed class Embedding : Module
{
    private readonly Parameter _weight;

    /// <summary>weight: (count, dim).</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>Zero-initialised table.</summary>
    public Embedding(int count, int dim) => _weight = RegisterParameter("weight", Tensor.Zeros([count, dim]));

    /// <summary>ids (any shape, int) → (..., dim).</summary>
    public Tensor Forward(Tensor ids) => Ops.Embedding(Weight, ids);
}

namespace Aim.Engine.Tensors;

// provides: instance shorthands for the differentiable view ops in Ops.
public sealed partial class Tensor
{
    /// <summary>See <see cref="Operations.Ops.Contiguous"/>.</summary>
    public Tensor Contiguous() => Operations.Ops.Contiguous(this);

    /// <summary>See <see cref="Operations.Ops.Reshape"/>.</summary>
    public Tensor Reshape(params ReadOnlySpan<int> shape) => Operations.Ops.Reshape(this, shape);

    /// <summary>See <see cref="Operations.Ops.Transpose"/>.</summary>
    public Tensor Transpose(int dim0, int dim1) => Operations.Ops.Transpose(this, dim0, dim1);

    /// <summary>See <see cref="Operations.Ops.Narrow"/>.</summary>
    public Tensor Narrow(int dim, int start, int length) => Operations.Ops.Narrow(this, dim, start, length);
}

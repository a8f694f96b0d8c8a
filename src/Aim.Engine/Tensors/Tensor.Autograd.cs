using Aim.Engine.Backends;

namespace Aim.Engine.Tensors;

// provides: gradient bookkeeping on tensors (RequiresGrad, Grad, leaves).
public sealed partial class Tensor
{
    private bool _isLeaf = true;

    /// <summary>
    /// True for tensors that collect gradients in <see cref="Grad"/> (parameters). Set it on leaves;
    /// op outputs get it from the tape when any input has it.
    /// </summary>
    public bool RequiresGrad
    {
        get;
        set
        {
            if (value && !DType.IsFloat()) throw new InvalidOperationException($"a {DType.ShortName()} tensor cannot require a gradient");
            field = value;
        }
    }

    /// <summary>True unless the tensor was produced by a recorded op.</summary>
    public bool IsLeaf => _isLeaf;

    /// <summary>The accumulated gradient of a leaf (owned by this tensor, outside every scope), or null.</summary>
    public Tensor? Grad { get; private set; }

    internal void MarkNonLeaf() => _isLeaf = false;

    internal void AccumulateGrad(Tensor g)
    {
        if (Grad is null)
        {
            var copy = TensorScope.Detach(Empty(Shape, DType, Device));
            Backend.Kernels(Device).Copy(g, copy);
            Grad = copy;
        }
        else
        {
            Backend.Kernels(Device).Binary(Kernels.BinaryOp.Add, Grad, g, Grad);
        }
    }

    /// <summary>Drops the accumulated gradient (frees it).</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }
}

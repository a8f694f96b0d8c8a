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

    /// <summary>
    /// Adds <paramref name="g"/> (this tensor's shape) into <see cref="Grad"/>. The first gradient is copied, unless
    /// <paramref name="mayAdopt"/> and g is a whole, contiguous, same-dtype buffer that nothing else references (its storage's
    /// only view, not saved on the tape): then <see cref="Grad"/> becomes a second view of it instead, which saves a copy
    /// per parameter and step. The caller passes mayAdopt only for gradients the backward pass made and hands over once.
    /// </summary>
    internal void AccumulateGrad(Tensor g, bool mayAdopt = false)
    {
        if (Grad is null && mayAdopt && CanAdopt(g))
        {
            Grad = TensorScope.Detach(g.CreateViewSame());
            return;
        }
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

    private bool CanAdopt(Tensor g)
    {
        var storage = g.StorageOrThrow;
        return g.DType == DType && g.Device == Device && g.IsContiguous && g.Offset == 0 && g._tapeHolds == 0 && storage.HasSingleReference
            && storage.ByteLength == g.Count * g.DType.SizeOf() && g.Shape.SequenceEqual(Shape);
    }

    /// <summary>Drops the accumulated gradient (frees it).</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }
}

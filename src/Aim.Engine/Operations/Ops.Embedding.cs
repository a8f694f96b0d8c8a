using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: Embedding (row gather by id) with its scatter-add backward (PyTorch nn.Embedding, no padding_idx).
public static partial class Ops
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/>: result[..., :] = weight[ids[...], :]. An id outside [0, V)
    /// throws <see cref="ArgumentException"/> naming the op and the id. The weight gradient is a
    /// deterministic scatter-add of the output gradient.
    /// </summary>
    /// <param name="weight">(V, D).</param>
    /// <param name="ids">Any shape, i32 or i64.</param>
    /// <returns>(ids..., D).</returns>
    public static Tensor Embedding(Tensor weight, Tensor ids)
    {
        if (weight.Rank != 2) throw new ArgumentException($"Embedding: weight {Tensor.ShapeString(weight.Shape)} must be (V, D)");
        KernelChecks.IndexType(nameof(Embedding), "ids", ids);
        SameDevice(nameof(Embedding), weight, ids);
        int[] shape = [.. ids.Shape, weight.Shape[1]];
        using var wc = ContiguousNoGrad(weight);
        using var ic = ContiguousNoGrad(ids);
        // A bf16-stored table (weight-only bf16 inference) gathers into f32 rows.
        var y = Tensor.Empty(shape, weight.DType == DType.BFloat16 ? DType.Float32 : weight.DType, weight.Device);
        K(weight).Embedding(wc, ic, y);
        if (Tape.ShouldRecord(weight))
        {
            Tape.Record(nameof(Embedding), y, [weight, ids], g =>
            {
                using var idc = ContiguousNoGrad(ids);
                using var gc = ContiguousNoGrad(g);
                var dw = Tensor.Zeros(weight.Shape, weight.DType, weight.Device);
                K(weight).EmbeddingBackward(idc, gc, dw);
                return [dw, null];
            });
        }
        return y;
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: Embedding (row gather) and EmbeddingBackward (scatter-add in id order), reference versions.
// Both copy/add raw rows, so they take any float dtype the element access supports (f32, f64).
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void Embedding(Tensor weight, Tensor ids, Tensor output)
    {
        int d = EmbeddingShapes(nameof(Embedding), weight, ids, output);
        NormChecks.IndicesInRange(nameof(Embedding), "token", ids, weight.Shape[0]);
        byte* pw = (byte*)weight.DataPointer, po = (byte*)output.DataPointer;
        for (long i = 0; i < ids.Count; i++)
        {
            long id = NormChecks.ReadIndex(ids, i);
            for (int j = 0; j < d; j++) Write(po, output.DType, i * d + j, Read(pw, weight.DType, id * d + j));
        }
    }

    /// <inheritdoc />
    public virtual void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight)
    {
        int d = EmbeddingShapes(nameof(EmbeddingBackward), dWeight, ids, dOutput);
        NormChecks.IndicesInRange(nameof(EmbeddingBackward), "token", ids, dWeight.Shape[0]);
        byte* pg = (byte*)dOutput.DataPointer, pw = (byte*)dWeight.DataPointer;
        var dt = dWeight.DType;
        for (long i = 0; i < ids.Count; i++)
        {
            long id = NormChecks.ReadIndex(ids, i);
            for (int j = 0; j < d; j++)
                Write(pw, dt, id * d + j, Read(pw, dt, id * d + j) + Read(pg, dt, i * d + j));
        }
    }

    /// <summary>Checks weight (V, D), ids (...) and rows (..., D); returns D.</summary>
    protected static int EmbeddingShapes(string op, Tensor weight, Tensor ids, Tensor rows)
    {
        KernelChecks.Rank(op, "weight", weight, 2);
        KernelChecks.Contiguous(op, "weight", weight);
        KernelChecks.IndexType(op, "ids", ids);
        KernelChecks.Contiguous(op, "ids", ids);
        KernelChecks.Contiguous(op, "rows", rows);
        // bf16-stored tables gather into f32 rows (weight-only bf16); otherwise one dtype.
        if (!(weight.DType == DType.BFloat16 && rows.DType == DType.Float32)) KernelChecks.SameDType(op, weight, rows);
        int d = weight.Shape[1];
        var expected = new int[ids.Rank + 1];
        ids.Shape.CopyTo(expected);
        expected[^1] = d;
        KernelChecks.Shape(op, "rows", rows, expected);
        IsDouble(op, rows.DType);
        return d;
    }
}

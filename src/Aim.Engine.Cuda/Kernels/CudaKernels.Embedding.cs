// The embedding family of the contract (IKernels.Embedding.cs) on CUDA: row gather and its scatter-add
// backward; kernels in embedding.cu. Float32, float64 and bf16 rows; i32 or i64 ids, range-checked on the
// host. The backward uses atomicAdd, so unlike the CPU kernels repeated ids are summed in a run-dependent
// order: results can differ in the last bits between runs (not bit-deterministic).
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    /// <inheritdoc />
    public void Embedding(Tensor weight, Tensor ids, Tensor output)
    {
        OnDevice(nameof(Embedding), weight, ids, output);
        int d = EmbeddingShapes(nameof(Embedding), weight, ids, output);
        IdsInRange(nameof(Embedding), "token", ids, weight.Shape[0]);
        LaunchEmbedding(weight, ids, output, d);
    }

    /// <inheritdoc />
    public void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight)
    {
        OnDevice(nameof(EmbeddingBackward), ids, dOutput, dWeight);
        int d = EmbeddingShapes(nameof(EmbeddingBackward), dWeight, ids, dOutput);
        IdsInRange(nameof(EmbeddingBackward), "token", ids, dWeight.Shape[0]);
        long n = ids.Count;
        if (n == 0 || d == 0) return;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(Ptr(ids));
        args.Add(Ptr(dOutput));
        args.Add(d);
        args.Add(n);
        args.Add(Ptr(dWeight));
        LaunchElementwise(Function("embedding.cu", $"embedding_backward_{Suffix(dWeight.DType)}_{Suffix(ids.DType)}"), n * d, args);
    }

    private void LaunchEmbedding(Tensor weight, Tensor ids, Tensor output, int d)
    {
        long n = ids.Count;
        if (n == 0 || d == 0) return;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(Ptr(weight));
        args.Add(Ptr(ids));
        args.Add(d);
        args.Add(n);
        args.Add(Ptr(output));
        LaunchElementwise(Function("embedding.cu", $"embedding_{Suffix(weight.DType)}_{Suffix(ids.DType)}"), n * d, args);
    }

    // weight (V, D) contiguous float (f32, f64, bf16); ids (...) i32/i64 contiguous; rows (ids..., D). Returns D.
    private static int EmbeddingShapes(string op, Tensor weight, Tensor ids, Tensor rows)
    {
        KernelChecks.Rank(op, "weight", weight, 2);
        KernelChecks.Contiguous(op, "weight", weight);
        KernelChecks.IndexType(op, "ids", ids);
        KernelChecks.Contiguous(op, "ids", ids);
        KernelChecks.Contiguous(op, "rows", rows);
        KernelChecks.SameDType(op, weight, rows);
        if (weight.DType is not (DType.Float32 or DType.Float64 or DType.BFloat16)) throw KernelChecks.Unsupported(op, "cuda", weight.DType);
        int d = weight.Shape[1];
        var expected = new int[ids.Rank + 1];
        ids.Shape.CopyTo(expected);
        expected[^1] = d;
        KernelChecks.Shape(op, "rows", rows, expected);
        return d;
    }
}

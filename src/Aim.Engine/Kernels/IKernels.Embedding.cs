using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: embedding gather (forward) and its scatter-add backward.
public partial interface IKernels
{
    /// <summary>
    /// Gathers rows: output[i, :] = weight[ids[i], :] for every id (ids flattened in row-major order).
    /// An id outside [0, V) throws <see cref="ArgumentException"/> naming the op and the id.
    /// </summary>
    /// <param name="weight">(V, D), contiguous.</param>
    /// <param name="ids">(...), i32 or i64, contiguous.</param>
    /// <param name="output">(..., D): ids' shape followed by D.</param>
    void Embedding(Tensor weight, Tensor ids, Tensor output);

    /// <summary>
    /// Scatter-add, <b>accumulates</b>: dWeight[ids[i], :] += dOutput[i, :] for every id, in id order
    /// (the caller zeroes dWeight first). Deterministic: repeated ids add in the same order every run.
    /// </summary>
    /// <param name="ids">(...), i32 or i64.</param>
    /// <param name="dOutput">(..., D).</param>
    /// <param name="dWeight">(V, D), accumulated into.</param>
    void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight);
}

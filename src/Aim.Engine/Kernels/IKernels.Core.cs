using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: fill, copy/cast, elementwise unary and binary (with broadcast), affine, reduce-to-shape, GEMM.
public partial interface IKernels
{
    /// <summary>output[...] = value. Any dtype.</summary>
    void Fill(double value, Tensor output);

    /// <summary>
    /// output = source element by element in row-major order, converting dtype if they differ. Both may be
    /// strided views (this is how views become contiguous and how slices are written); element counts must match.
    /// </summary>
    void Copy(Tensor source, Tensor output);

    /// <summary>
    /// output = a (op) b. <paramref name="a"/> and <paramref name="b"/> are strided views already broadcast to
    /// output's shape (stride 0 on broadcast dimensions). output may alias a contiguous a or b.
    /// </summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor output);

    /// <summary>output = op(x). x contiguous; output may alias x.</summary>
    void Unary(UnaryOp op, Tensor x, Tensor output);

    /// <summary>dInput = dOutput * op'(x). All contiguous, same shape.</summary>
    void UnaryBackward(UnaryOp op, Tensor x, Tensor dOutput, Tensor dInput);

    /// <summary>output = x * scale + shift. x contiguous; output may alias x.</summary>
    void Affine(Tensor x, double scale, double shift, Tensor output);

    /// <summary>
    /// Sums <paramref name="x"/> down to output's shape: output has x's rank, each dimension either equal to
    /// x's or 1 (summed over). The reverse of broadcasting; used for bias and broadcast gradients.
    /// </summary>
    void SumTo(Tensor x, Tensor output);

    /// <summary>
    /// Batched matrix product c = alpha * op(a) * op(b) + beta * c.
    /// a: (Ba, M, K), or (Ba, K, M) when transA; b: (Bb, K, N), or (Bb, N, K) when transB; c: (Bc, M, N).
    /// Ba and Bb are each 1 (shared by every batch) or Bc. All contiguous. a, b, c share one dtype, except that
    /// b may be bf16 with f32 a and c (weights stored in bf16, math in f32), and a and b may both be bf16 with an
    /// f32 c (autocast: bf16 products accumulated and written in f32).
    /// </summary>
    void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta);
}

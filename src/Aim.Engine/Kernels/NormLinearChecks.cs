using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the argument checks of GatedRmsNormMatMul (IKernels.NormLinear.cs), shared by every backend, and its
// composition out of a backend's own GatedRmsNorm and Gemm (the definition; used by the reference and the CPU; CUDA
// runs the same two kernels, then Project). GatedRmsNorm reads row views of x and z in place.
internal static class NormLinearChecks
{
    /// <summary>Dimensions of a GatedRmsNormMatMul call: x (M, K), weight (N, K).</summary>
    public readonly record struct Dims(int M, int K, int N);

    /// <summary>Checks every operand of GatedRmsNormMatMul, the output included; returns the dimensions.</summary>
    public static Dims Check(string op, Tensor x, Tensor z, Tensor normWeight, int groupSize, Tensor weight, Tensor output)
    {
        KernelChecks.Rank(op, "x", x, 2);
        KernelChecks.Rank(op, "weight", weight, 2);
        int m = x.Shape[0], k = x.Shape[1], n = weight.Shape[0];
        if (weight.Shape[1] != k)
            throw new ArgumentException($"{op}: x {Tensor.ShapeString(x.Shape)} (M, K) and weight {Tensor.ShapeString(weight.Shape)} (N, K) disagree on K");
        KernelChecks.Shape(op, "z", z, m, k);
        KernelChecks.Shape(op, "normWeight", normWeight, k);
        KernelChecks.Shape(op, "output", output, m, n);
        NormChecks.GroupSize(op, k, groupSize);
        SsmChecks.UnitLastStride(op, "x", x);
        SsmChecks.UnitLastStride(op, "z", z);
        KernelChecks.Contiguous(op, "normWeight", normWeight);
        KernelChecks.Contiguous(op, "weight", weight);
        KernelChecks.Contiguous(op, "output", output);
        SsmChecks.Floats(op, x, z, normWeight, output);
        if (weight.DType != x.DType && !(weight.DType == DType.BFloat16 && x.DType == DType.Float32))
            throw new ArgumentException($"{op}: weight is {weight.DType.ShortName()}, expected {x.DType.ShortName()} (or bf16 with f32 activations)");
        return new Dims(m, k, n);
    }

    /// <summary>
    /// The definition on <paramref name="kernels"/>: GatedRmsNorm into an (M, K) temporary of x's dtype (x and z read in
    /// place when they are row views, NormChecks.RowStride; copied to contiguous otherwise), then Gemm with the weight transposed.
    /// </summary>
    public static void Compose(IKernels kernels, Dims s, Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        if (s.M == 0 || s.N == 0) return;
        using var xCopy = NormChecks.TryRowStride(x, out _) ? null : ContiguousCopy(kernels, x);
        using var zCopy = NormChecks.TryRowStride(z, out _) ? null : ContiguousCopy(kernels, z);
        using var normed = TensorScope.Detach(Tensor.Empty([s.M, s.K], x.DType, x.Device)); // (M, K)
        kernels.GatedRmsNorm(xCopy ?? x, zCopy ?? z, normWeight, eps, groupSize, normed);
        Project(kernels, s, normed, weight, output);
    }

    /// <summary>The composition's second step: output (M, N) = normed (M, K, contiguous) · weightᵀ through Gemm.</summary>
    public static void Project(IKernels kernels, Dims s, Tensor normed, Tensor weight, Tensor output)
    {
        using var a = normed.CreateView([1, s.M, s.K], [(long)s.M * s.K, s.K, 1], normed.Offset);    // (1, M, K)
        using var b = weight.CreateView([1, s.N, s.K], [(long)s.N * s.K, s.K, 1], weight.Offset);    // (1, N, K)
        using var c = output.CreateView([1, s.M, s.N], [(long)s.M * s.N, s.N, 1], output.Offset);    // (1, M, N)
        kernels.Gemm(a, b, c, false, true, 1.0, 0.0);
    }

    private static Tensor ContiguousCopy(IKernels kernels, Tensor t)
    {
        var c = TensorScope.Detach(Tensor.Empty(t.Shape, t.DType, t.Device));
        kernels.Copy(t, c);
        return c;
    }
}

// The conv family of the contract (IKernels.Conv.cs) on CUDA: Conv2d and its two backward passes as im2col /
// col2im (conv.cu) around the cuBLAS Gemm (Gemm.cs), nearest x2 upsampling (+backward, conv.cu), L2 row
// normalisation (+backward) and the nearest-codebook search (vq.cu). Formulas are the reference kernels'
// (ReferenceKernels.Conv.cs); the GEMM layout mirrors CpuKernels.Conv.cs: per image, output (Cout, Ho·Wo) =
// weight (Cout, Cin·kh·kw) · columns (Cin·kh·kw, Ho·Wo), and 1x1 stride-1 unpadded convolutions use the input as
// its own column matrix. Float32 only: other dtypes throw NotSupportedException naming the op.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    private const int NearestThreads = 256; // NEAREST_THREADS in vq.cu
    private const int NearestBlocksPerMultiprocessor = 16;

    /// <summary>
    /// Largest im2col buffer in elements (default 2^28, 1 GiB of float32): images are unfolded as many at a time as
    /// fit, at least one. Checks lower it to exercise the multi-chunk path on small inputs.
    /// </summary>
    public long ConvColumnBudget { get; set; } = 1L << 28;

    private static void Float32Only(string op, DType dtype)
    {
        if (dtype != DType.Float32) throw KernelChecks.Unsupported(op, "cuda", dtype);
    }

    /// <summary>A contiguous (a, b, c) view of t's storage starting <paramref name="offset"/> elements after t's first element.</summary>
    private static Tensor View3(Tensor t, int a, int b, int c, long offset)
    {
        int[] shape = [a, b, c];
        return t.CreateView(shape, Tensor.ContiguousStrides(shape), t.Offset + offset);
    }

    /// <summary>Images unfolded per im2col chunk for a geometry.</summary>
    private int ImagesPerChunk(Conv2dGeometry g) => (int)Math.Clamp(ConvColumnBudget / Math.Max(1L, (long)g.PatchSize * g.OutputPixels), 1, Math.Max(1, g.N));

    private void Im2Col(Tensor x, long imageOffset, Conv2dGeometry g, int images, Tensor col)
    {
        long total = (long)images * g.PatchSize * g.OutputPixels;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[14]);
        args.Add(Ptr(x) + (ulong)(imageOffset * sizeof(float)));
        args.Add(Ptr(col));
        AddGeometry(ref args, g);
        args.Add(total);
        LaunchElementwise(Function("conv.cu", "im2col_f32"), total, args);
    }

    private void Col2Im(Tensor col, Conv2dGeometry g, int images, Tensor dInput, long imageOffset)
    {
        long total = (long)images * g.Cin * g.H * g.W;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[14]);
        args.Add(Ptr(col));
        args.Add(Ptr(dInput) + (ulong)(imageOffset * sizeof(float)));
        AddGeometry(ref args, g);
        args.Add(total);
        LaunchElementwise(Function("conv.cu", "col2im_f32"), total, args);
    }

    private static void AddGeometry(scoped ref KernelArgs args, Conv2dGeometry g)
    {
        args.Add(g.Cin);
        args.Add(g.H);
        args.Add(g.W);
        args.Add(g.Kh);
        args.Add(g.Kw);
        args.Add(g.Ho);
        args.Add(g.Wo);
        args.Add(g.Stride);
        args.Add(g.PadTop);
        args.Add(g.PadLeft);
    }

    /// <summary>
    /// The checks every conv kernel makes: the geometry from the input's and the weight's shapes, the output (or
    /// output gradient) shape, one f32 dtype, contiguous operands on this device. Returns the geometry.
    /// </summary>
    private Conv2dGeometry CheckConv(string op, (Tensor T, string Name) input, (Tensor T, string Name) weightLike, (Tensor T, string Name) outputLike,
        int stride, int padTop, int padBottom, int padLeft, int padRight)
    {
        var g = Conv2dGeometry.Create(op, input.T.Shape, weightLike.T.Shape, stride, padTop, padBottom, padLeft, padRight);
        KernelChecks.Shape(op, outputLike.Name, outputLike.T, g.N, g.Cout, g.Ho, g.Wo);
        KernelChecks.SameDType(op, input.T, weightLike.T, outputLike.T);
        foreach (var (t, name) in new[] { input, weightLike, outputLike }) KernelChecks.Contiguous(op, name, t);
        OnDevice(op, input.T, weightLike.T, outputLike.T);
        Float32Only(op, input.T.DType);
        return g;
    }

    /// <inheritdoc />
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor output)
    {
        const string op = nameof(Conv2d);
        var g = CheckConv(op, (x, "x"), (weight, "weight"), (output, "output"), stride, padTop, padBottom, padLeft, padRight);
        if (bias is not null)
        {
            OnDevice(op, bias);
            KernelChecks.Shape(op, "bias", bias, g.Cout);
            KernelChecks.SameDType(op, x, bias);
            KernelChecks.Contiguous(op, "bias", bias);
        }
        if (output.Count == 0) return;
        int k = g.PatchSize, p = g.OutputPixels;
        double beta = 0;
        if (bias is not null)
        {
            // Seed the output with the bias rows; the GEMMs then add into it (beta = 1).
            var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
            args.Add(Ptr(bias));
            args.Add(Ptr(output));
            args.Add(g.Cout);
            args.Add((long)p);
            args.Add(output.Count);
            LaunchElementwise(Function("conv.cu", "bias_rows_f32"), output.Count, args);
            beta = 1;
        }
        using var w3 = View3(weight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            // y[n] (Cout, HW) = W (Cout, Cin) · x[n] (Cin, HW).
            using var x3 = View3(x, g.N, g.Cin, p, 0);
            using var y3 = View3(output, g.N, g.Cout, p, 0);
            Gemm(w3, x3, y3, false, false, 1, beta);
            return;
        }
        int chunk = ImagesPerChunk(g);
        using var col = Tensor.Empty([chunk, k, p], DType.Float32, _backend.Device);
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int count = Math.Min(chunk, g.N - n0);
            Im2Col(x, n0 * imageIn, g, count, col);
            using var c3 = View3(col, count, k, p, 0);
            using var y3 = View3(output, count, g.Cout, p, n0 * imageOut);
            Gemm(w3, c3, y3, false, false, 1, beta);
        }
    }

    /// <inheritdoc />
    public void Conv2dBackwardInput(Tensor dOutput, Tensor weight, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dInput)
    {
        const string op = nameof(Conv2dBackwardInput);
        var g = CheckConv(op, (dInput, "dInput"), (weight, "weight"), (dOutput, "dOutput"), stride, padTop, padBottom, padLeft, padRight);
        if (dInput.Count == 0) return;
        int k = g.PatchSize, p = g.OutputPixels;
        using var w3 = View3(weight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            // dx[n] (Cin, HW) = Wᵀ (Cin, Cout) · dy[n] (Cout, HW).
            using var g3 = View3(dOutput, g.N, g.Cout, p, 0);
            using var dx3 = View3(dInput, g.N, g.Cin, p, 0);
            Gemm(w3, g3, dx3, true, false, 1, 0);
            return;
        }
        int chunk = ImagesPerChunk(g);
        using var col = Tensor.Empty([chunk, k, p], DType.Float32, _backend.Device);
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int count = Math.Min(chunk, g.N - n0);
            // columns[n] (Cin·kh·kw, HoWo) = Wᵀ · dy[n], then each input position gathers its taps.
            using var g3 = View3(dOutput, count, g.Cout, p, n0 * imageOut);
            using var c3 = View3(col, count, k, p, 0);
            Gemm(w3, g3, c3, true, false, 1, 0);
            Col2Im(col, g, count, dInput, n0 * imageIn);
        }
    }

    /// <inheritdoc />
    public void Conv2dBackwardWeight(Tensor x, Tensor dOutput, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dWeight)
    {
        const string op = nameof(Conv2dBackwardWeight);
        var g = CheckConv(op, (x, "x"), (dWeight, "dWeight"), (dOutput, "dOutput"), stride, padTop, padBottom, padLeft, padRight);
        if (dWeight.Count == 0) return;
        if (g.N == 0)
        {
            Fill(0, dWeight);
            return;
        }
        int k = g.PatchSize, p = g.OutputPixels;
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        // dW (Cout, Cin·kh·kw) = Σ_n dy[n] (Cout, HoWo) · columns[n]ᵀ, accumulated image by image (beta = 1 after the first).
        using var dw3 = View3(dWeight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            for (int n = 0; n < g.N; n++)
            {
                using var g3 = View3(dOutput, 1, g.Cout, p, n * imageOut);
                using var x3 = View3(x, 1, g.Cin, p, n * imageIn);
                Gemm(g3, x3, dw3, false, true, 1, n == 0 ? 0 : 1);
            }
            return;
        }
        int chunk = ImagesPerChunk(g);
        using var col = Tensor.Empty([chunk, k, p], DType.Float32, _backend.Device);
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int count = Math.Min(chunk, g.N - n0);
            Im2Col(x, n0 * imageIn, g, count, col);
            for (int i = 0; i < count; i++)
            {
                using var g3 = View3(dOutput, 1, g.Cout, p, (n0 + i) * imageOut);
                using var c3 = View3(col, 1, k, p, (long)i * k * p);
                Gemm(g3, c3, dw3, false, true, 1, n0 + i == 0 ? 0 : 1);
            }
        }
    }

    private static void CheckUpsample(string op, Tensor small, Tensor large)
    {
        KernelChecks.Rank(op, "input", small, 4);
        KernelChecks.Shape(op, "output", large, small.Shape[0], small.Shape[1], 2 * small.Shape[2], 2 * small.Shape[3]);
        KernelChecks.SameDType(op, small, large);
        KernelChecks.Contiguous(op, "input", small);
        KernelChecks.Contiguous(op, "output", large);
        Float32Only(op, small.DType);
    }

    /// <inheritdoc />
    public void UpsampleNearest2x(Tensor x, Tensor output)
    {
        OnDevice(nameof(UpsampleNearest2x), x, output);
        CheckUpsample(nameof(UpsampleNearest2x), x, output);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        args.Add(Ptr(x));
        args.Add(Ptr(output));
        args.Add(x.Shape[2]);
        args.Add(x.Shape[3]);
        args.Add(output.Count);
        LaunchElementwise(Function("conv.cu", "upsample_nearest2x_f32"), output.Count, args);
    }

    /// <inheritdoc />
    public void UpsampleNearest2xBackward(Tensor dOutput, Tensor dInput)
    {
        OnDevice(nameof(UpsampleNearest2xBackward), dOutput, dInput);
        CheckUpsample(nameof(UpsampleNearest2xBackward), dInput, dOutput);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        args.Add(Ptr(dOutput));
        args.Add(Ptr(dInput));
        args.Add(dInput.Shape[2]);
        args.Add(dInput.Shape[3]);
        args.Add(dInput.Count);
        LaunchElementwise(Function("conv.cu", "upsample_nearest2x_backward_f32"), dInput.Count, args);
    }

    private static (long Rows, int D) CheckL2Rows(string op, Tensor x, Tensor other, string otherName)
    {
        if (x.Rank < 1 || x.Shape[^1] == 0)
            throw new ArgumentException($"{op}: x must have a non-empty last dimension, got shape {Tensor.ShapeString(x.Shape)}");
        KernelChecks.SameShape(op, x, other);
        KernelChecks.SameDType(op, x, other);
        KernelChecks.Contiguous(op, "x", x);
        KernelChecks.Contiguous(op, otherName, other);
        Float32Only(op, x.DType);
        int d = x.Shape[^1];
        return (x.Count / d, d);
    }

    /// <inheritdoc />
    public void L2Normalize(Tensor x, double eps, Tensor output)
    {
        OnDevice(nameof(L2Normalize), x, output);
        var (rows, d) = CheckL2Rows(nameof(L2Normalize), x, output, "output");
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        args.Add(Ptr(x));
        args.Add(eps);
        args.Add(Ptr(output));
        args.Add(rows);
        args.Add(d);
        LaunchElementwise(Function("vq.cu", "l2_normalize_f32"), rows, args);
    }

    /// <inheritdoc />
    public void L2NormalizeBackward(Tensor x, Tensor dOutput, double eps, Tensor dInput)
    {
        const string op = nameof(L2NormalizeBackward);
        OnDevice(op, x, dOutput, dInput);
        var (rows, d) = CheckL2Rows(op, x, dOutput, "dOutput");
        CheckL2Rows(op, x, dInput, "dInput");
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[6]);
        args.Add(Ptr(x));
        args.Add(Ptr(dOutput));
        args.Add(eps);
        args.Add(Ptr(dInput));
        args.Add(rows);
        args.Add(d);
        LaunchElementwise(Function("vq.cu", "l2_normalize_backward_f32"), rows, args);
    }

    /// <inheritdoc />
    public void NearestCode(Tensor z, Tensor codebook, Tensor output)
    {
        const string op = nameof(NearestCode);
        var (m, k, d) = Aim.Engine.Kernels.Reference.ReferenceKernels.CheckNearestCode(z, codebook, output);
        OnDevice(op, z, codebook, output);
        Float32Only(op, z.DType);
        if (m == 0) return;
        // Scratch: the codebook transposed to (D, K) and its squared row norms (K), freed in stream order.
        using var et = Tensor.Empty([d, k], DType.Float32, _backend.Device);
        using var ee = Tensor.Empty([k], DType.Float32, _backend.Device);
        var prep = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        prep.Add(Ptr(codebook));
        prep.Add(Ptr(et));
        prep.Add(Ptr(ee));
        prep.Add(k);
        prep.Add(d);
        LaunchElementwise(Function("vq.cu", "nearest_code_prepare_f32"), k, prep);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[7]);
        args.Add(Ptr(z));
        args.Add(Ptr(et));
        args.Add(Ptr(ee));
        args.Add(Ptr(output));
        args.Add((long)m);
        args.Add(k);
        args.Add(d);
        long blocks = Math.Min(m, (long)_backend.Context.MultiprocessorCount * NearestBlocksPerMultiprocessor);
        Launch(Function("vq.cu", "nearest_code_f32"), (uint)blocks, NearestThreads, 0, args);
    }
}

// The core family of the contract (IKernels.Core.cs) on CUDA: Fill, Copy, Binary, Unary, UnaryBackward,
// Affine and SumTo. Formulas are the reference kernels' (ReferenceKernels.Core.cs); kernels in fill.cu,
// copy.cu, elementwise.cu and sum_to.cu. Gemm is in Gemm.cs.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int SumToThreads = 256; // SUM_TO_THREADS in sum_to.cu
    private const int SumToBlocksPerMultiprocessor = 16;

    /// <inheritdoc />
    public void Fill(double value, Tensor output)
    {
        OnDevice(nameof(Fill), output);
        KernelChecks.Contiguous(nameof(Fill), "output", output);
        long n = output.Count;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[4]);
        args.Add(Ptr(output));
        string name;
        switch (output.DType)
        {
            case DType.Float32: name = "fill_b32"; args.Add(BitConverter.SingleToUInt32Bits((float)value)); break;
            case DType.Int32: name = "fill_b32"; args.Add((uint)checked((int)value)); break;
            case DType.BFloat16: name = "fill_b16"; args.Add(BFloat16.FromSingle((float)value).Bits); break;
            case DType.Float64: name = "fill_b64"; args.Add(BitConverter.DoubleToUInt64Bits(value)); break;
            case DType.Int64: name = "fill_b64"; args.Add((ulong)checked((long)value)); break;
            default: throw KernelChecks.Unsupported(nameof(Fill), Name, output.DType);
        }
        args.Add(n);
        LaunchElementwise(Function("fill.cu", name), n, args);
    }

    /// <inheritdoc />
    public void Copy(Tensor source, Tensor output)
    {
        OnDevice(nameof(Copy), source, output);
        if (source.Count != output.Count)
            throw new ArgumentException($"Copy: source {Tensor.ShapeString(source.Shape)} and output {Tensor.ShapeString(output.Shape)} differ in size");
        long n = output.Count;
        if (n == 0) return;
        if (source.DType == output.DType && source.IsContiguous && output.IsContiguous)
        {
            _backend.Context.MakeCurrent();
            Check(cuMemcpyDtoDAsync(Ptr(output), Ptr(source), (nuint)(n * source.DType.SizeOf()), _backend.Stream));
            return;
        }
        var s = StridedDesc.Of(nameof(Copy), source);
        var d = StridedDesc.Of(nameof(Copy), output);
        var args = new KernelArgs(stackalloc byte[512], stackalloc nint[8]);
        args.Add(Ptr(source));
        args.Add(s);
        args.Add(Ptr(output));
        args.Add(d);
        args.Add(n);
        LaunchElementwise(Function("copy.cu", $"copy_{Suffix(source.DType)}_{Suffix(output.DType)}"), n, args);
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor output)
    {
        string name = $"Binary({op})";
        OnDevice(name, a, b, output);
        KernelChecks.SameShape(name, a, output);
        KernelChecks.SameShape(name, b, output);
        KernelChecks.SameDType(name, a, b, output);
        KernelChecks.Contiguous(name, "output", output);
        FloatCompute(name, output.DType);
        var args = new KernelArgs(stackalloc byte[512], stackalloc nint[8]);
        args.Add((int)op);
        args.Add(Ptr(a));
        args.Add(StridedDesc.Of(name, a));
        args.Add(Ptr(b));
        args.Add(StridedDesc.Of(name, b));
        args.Add(Ptr(output));
        args.Add(output.Count);
        LaunchElementwise(Function("elementwise.cu", $"binary_{Suffix(output.DType)}"), output.Count, args);
    }

    /// <inheritdoc />
    public void Unary(UnaryOp op, Tensor x, Tensor output)
    {
        string name = $"Unary({op})";
        OnDevice(name, x, output);
        KernelChecks.SameShape(name, x, output);
        KernelChecks.SameDType(name, x, output);
        KernelChecks.Contiguous(name, "x", x);
        KernelChecks.Contiguous(name, "output", output);
        FloatCompute(name, x.DType);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[4]);
        args.Add((int)op);
        args.Add(Ptr(x));
        args.Add(Ptr(output));
        args.Add(x.Count);
        LaunchElementwise(Function("elementwise.cu", $"unary_forward_{Suffix(x.DType)}"), x.Count, args);
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dOutput, Tensor dInput)
    {
        string name = $"UnaryBackward({op})";
        OnDevice(name, x, dOutput, dInput);
        KernelChecks.SameShape(name, x, dOutput);
        KernelChecks.SameShape(name, x, dInput);
        KernelChecks.SameDType(name, x, dOutput, dInput);
        KernelChecks.Contiguous(name, "x", x);
        KernelChecks.Contiguous(name, "dOutput", dOutput);
        KernelChecks.Contiguous(name, "dInput", dInput);
        FloatCompute(name, x.DType);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        args.Add((int)op);
        args.Add(Ptr(x));
        args.Add(Ptr(dOutput));
        args.Add(Ptr(dInput));
        args.Add(x.Count);
        LaunchElementwise(Function("elementwise.cu", $"unary_backward_{Suffix(x.DType)}"), x.Count, args);
    }

    /// <inheritdoc />
    public void Affine(Tensor x, double scale, double shift, Tensor output)
    {
        OnDevice(nameof(Affine), x, output);
        KernelChecks.SameShape(nameof(Affine), x, output);
        KernelChecks.SameDType(nameof(Affine), x, output);
        KernelChecks.Contiguous(nameof(Affine), "x", x);
        KernelChecks.Contiguous(nameof(Affine), "output", output);
        FloatCompute(nameof(Affine), x.DType);
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        args.Add(Ptr(x));
        args.Add(scale);
        args.Add(shift);
        args.Add(Ptr(output));
        args.Add(x.Count);
        LaunchElementwise(Function("elementwise.cu", $"affine_{Suffix(x.DType)}"), x.Count, args);
    }

    /// <inheritdoc />
    public void SumTo(Tensor x, Tensor output)
    {
        OnDevice(nameof(SumTo), x, output);
        if (x.Rank != output.Rank)
            throw new ArgumentException($"SumTo: output {Tensor.ShapeString(output.Shape)} must have the rank of x {Tensor.ShapeString(x.Shape)}");
        for (int d = 0; d < x.Rank; d++)
            if (output.Shape[d] != x.Shape[d] && output.Shape[d] != 1)
                throw new ArgumentException($"SumTo: cannot sum {Tensor.ShapeString(x.Shape)} to {Tensor.ShapeString(output.Shape)}");
        KernelChecks.SameDType(nameof(SumTo), x, output);
        KernelChecks.Contiguous(nameof(SumTo), "output", output);
        FloatCompute(nameof(SumTo), x.DType);
        // Split x's dimensions: kept ones index the output (in its row-major order), reduced ones are summed.
        var keptShape = new List<int>();
        var keptStrides = new List<long>();
        var redShape = new List<int>();
        var redStrides = new List<long>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (output.Shape[d] == x.Shape[d])
            {
                keptShape.Add(x.Shape[d]);
                keptStrides.Add(x.Strides[d]);
            }
            else
            {
                redShape.Add(x.Shape[d]);
                redStrides.Add(x.Strides[d]);
            }
        }
        long outputs = output.Count, perOutput = Tensor.ElementCount([.. redShape]);
        if (outputs == 0) return;
        var args = new KernelArgs(stackalloc byte[512], stackalloc nint[8]);
        args.Add(Ptr(x));
        args.Add(StridedDesc.Collapse(nameof(SumTo), [.. keptShape], [.. keptStrides]));
        args.Add(StridedDesc.Collapse(nameof(SumTo), [.. redShape], [.. redStrides]));
        args.Add(Ptr(output));
        args.Add(outputs);
        args.Add(perOutput);
        long blocks = Math.Min(outputs, (long)_backend.Context.MultiprocessorCount * SumToBlocksPerMultiprocessor);
        Launch(Function("sum_to.cu", $"sum_to_{Suffix(x.DType)}"), (uint)blocks, SumToThreads, 0, args);
    }
}

// The core family of the contract (IKernels.Core.cs) on CUDA: Fill, Copy, Binary, Unary, UnaryBackward,
// Affine and SumTo. Formulas are the reference kernels' (ReferenceKernels.Core.cs); kernels in fill.cu,
// copy.cu, elementwise.cu and sum_to.cu. Gemm is in Gemm.cs.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using System.Numerics;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int SumToThreads = 256; // SUM_TO_THREADS in sum_to.cu
    private const int SumToBlocksPerMultiprocessor = 16;     // sum_to_rows grid cap
    private const int SumToRowMinBlocksPerMultiprocessor = 2; // fewer outputs than this: split them (sum_to_cols)
    private const int SumToMaxCols = 32;                     // outputs per sum_to_cols block (a warp's width)
    private const int SumToColumnBlocksPerMultiprocessor = 8;
    private const int SumToMinLoadsPerThread = 8;
    private const long SumToMaxSplits = 1 << 16;

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
        if (FastCopyPair(source.DType, output.DType))
        {
            var plan = PlanCopy(s, d, n, Ptr(source) / (ulong)source.DType.SizeOf(), Ptr(output) / (ulong)output.DType.SizeOf());
            if (plan.Kind != CopyKind.Generic)
            {
                string pair = $"{Suffix(source.DType)}_{Suffix(output.DType)}";
                var fast = new KernelArgs(stackalloc byte[128], stackalloc nint[8]);
                fast.Add(Ptr(source));
                if (plan.Kind == CopyKind.Rows) fast.Add(plan.SourceRowStride);
                fast.Add(Ptr(output));
                if (plan.Kind == CopyKind.Rows)
                {
                    fast.Add(plan.OutputRowStride);
                    fast.Add(plan.Rows);
                    fast.Add(plan.Cols);
                }
                else fast.Add(n);
                fast.Add(plan.Vector ? 1 : 0);
                fast.Add(plan.Head);
                string kernel = plan.Kind == CopyKind.Rows ? $"copy_rows_{pair}" : $"copy_flat_{pair}";
                LaunchElementwise(Function("copy.cu", kernel), (plan.Pieces + CopyUnroll - 1) / CopyUnroll, fast);
                return;
            }
        }
        var args = new KernelArgs(stackalloc byte[512], stackalloc nint[8]);
        args.Add(Ptr(source));
        args.Add(s);
        args.Add(Ptr(output));
        args.Add(d);
        args.Add(n);
        LaunchElementwise(Function("copy.cu", $"copy_{Suffix(source.DType)}_{Suffix(output.DType)}"), n, args);
    }

    private const int CopyUnroll = 2; // COPY_UNROLL in copy.cu: pieces per thread per grid-stride round

    /// <summary>Which copy.cu kernel a Copy runs (<see cref="PlanCopy"/>).</summary>
    internal enum CopyKind
    {
        /// <summary>copy_&lt;s&gt;_&lt;d&gt;: any strides, one element per thread per round.</summary>
        Generic,
        /// <summary>copy_flat_&lt;s&gt;_&lt;d&gt;: both sides one contiguous run.</summary>
        Flat,
        /// <summary>copy_rows_&lt;s&gt;_&lt;d&gt;: both sides (rows, cols) with unit inner stride.</summary>
        Rows,
    }

    /// <summary>
    /// The launch of a fast copy: the kind, the (rows, cols) layout and row strides of a row copy (a flat copy is one
    /// row of n), whether pieces are aligned 4-element vectors and the scalar head before the first aligned element,
    /// and the number of pieces (the grid covers them <see cref="CopyUnroll"/> per thread).
    /// </summary>
    internal readonly record struct CopyPlan(CopyKind Kind, long Rows, long Cols, long SourceRowStride, long OutputRowStride, bool Vector, int Head, long Pieces);

    /// <summary>The dtype pairs with flat and row kernels (copy_flat_*, copy_rows_* in copy.cu); others copy generically.</summary>
    internal static bool FastCopyPair(DType source, DType output)
        => (source, output) is (DType.Float32, DType.Float32) or (DType.Float32, DType.BFloat16) or (DType.BFloat16, DType.Float32);

    /// <summary>
    /// Chooses the copy kernel for collapsed descriptors <paramref name="s"/> (source) and <paramref name="d"/>
    /// (output) of <paramref name="n"/> elements whose first elements sit at element addresses
    /// <paramref name="sourceElement"/> and <paramref name="outputElement"/> (byte address / element size; vectors
    /// need both at the same remainder mod 4). Mirrored in tests/cuda-emulation/copy_check.cpp.
    /// </summary>
    internal static CopyPlan PlanCopy(in StridedDesc s, in StridedDesc d, long n, ulong sourceElement, ulong outputElement)
    {
        int sa = (int)(sourceElement % 4), da = (int)(outputElement % 4);
        bool sFlat = s.Rank == 1 && s.Strides[0] == 1, dFlat = d.Rank == 1 && d.Strides[0] == 1;
        if (sFlat && dFlat)
        {
            bool vec = sa == da;
            int head = vec ? (int)Math.Min((4 - sa) % 4, n) : 0;
            return new CopyPlan(CopyKind.Flat, 1, n, n, n, vec, head, CopyPieces(n, vec, head));
        }
        bool sRows = s.Rank == 2 && s.Strides[1] == 1, dRows = d.Rank == 2 && d.Strides[1] == 1;
        long rows, cols, ss, ds;
        if (sRows && (dFlat || (dRows && d.Shape[1] == s.Shape[1])))
        {
            rows = s.Shape[0];
            cols = s.Shape[1];
            ss = s.Strides[0];
            ds = dFlat ? cols : d.Strides[0];
        }
        else if (dRows && sFlat)
        {
            rows = d.Shape[0];
            cols = d.Shape[1];
            ss = cols;
            ds = d.Strides[0];
        }
        else return new CopyPlan(CopyKind.Generic, 0, 0, 0, 0, false, 0, 0);
        bool rowVec = sa == da && ss % 4 == 0 && ds % 4 == 0;
        int rowHead = rowVec ? (int)Math.Min((4 - sa) % 4, cols) : 0;
        return new CopyPlan(CopyKind.Rows, rows, cols, ss, ds, rowVec, rowHead, rows * CopyPieces(cols, rowVec, rowHead));
    }

    /// <summary>copy.cu run_pieces: pieces of a run of <paramref name="length"/> elements.</summary>
    private static long CopyPieces(long length, bool vec, int head)
    {
        if (!vec) return length;
        long nvec = (length - head) / 4;
        return (head > 0 ? 1 : 0) + nvec + (length - head - 4 * nvec > 0 ? 1 : 0);
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
        var kept = StridedDesc.Collapse(nameof(SumTo), [.. keptShape], [.. keptStrides]);
        var reduced = StridedDesc.Collapse(nameof(SumTo), [.. redShape], [.. redStrides]);
        long keptInnerStride = kept.Strides[kept.Rank - 1], keptInner = kept.Shape[kept.Rank - 1];
        bool reducedContiguous = perOutput > 1 && reduced.Strides[reduced.Rank - 1] == 1;
        int multiprocessors = _backend.Context.MultiprocessorCount;
        string sfx = Suffix(x.DType);
        if (reducedContiguous && outputs >= (long)multiprocessors * SumToRowMinBlocksPerMultiprocessor)
        {
            var args = new KernelArgs(stackalloc byte[512], stackalloc nint[8]);
            args.Add(Ptr(x));
            args.Add(kept);
            args.Add(reduced);
            args.Add(Ptr(output));
            args.Add(outputs);
            args.Add(perOutput);
            long blocks = Math.Min(outputs, (long)multiprocessors * SumToBlocksPerMultiprocessor);
            Launch(Function("sum_to.cu", $"sum_to_{sfx}"), (uint)blocks, SumToThreads, 0, args);
            return;
        }
        int cols = !reducedContiguous && keptInnerStride == 1 ? (int)Math.Min(SumToMaxCols, PowerOfTwoAtLeast(keptInner)) : 1;
        var plan = SumToColumnPlan(outputs, perOutput, cols, multiprocessors);
        using var partial = plan.Splits > 1 ? Tensor.Empty([checked((int)(plan.Splits * outputs))], DType.Float32, x.Device) : null;
        var colArgs = new KernelArgs(stackalloc byte[512], stackalloc nint[10]);
        colArgs.Add(Ptr(x));
        colArgs.Add(kept);
        colArgs.Add(reduced);
        colArgs.Add(outputs);
        colArgs.Add(perOutput);
        colArgs.Add(cols);
        colArgs.Add(plan.ColBlocks);
        colArgs.Add(plan.RowsPerSplit);
        colArgs.Add(Ptr(output));
        colArgs.Add(PtrOrNull(partial));
        Launch(Function("sum_to.cu", $"sum_to_cols_{sfx}"), checked((uint)(plan.ColBlocks * plan.Splits)), (uint)(cols * plan.Rows), 0, colArgs);
        if (partial is null) return;
        var finishArgs = new KernelArgs(stackalloc byte[64], stackalloc nint[4]);
        finishArgs.Add(Ptr(partial));
        finishArgs.Add(plan.Splits);
        finishArgs.Add(outputs);
        finishArgs.Add(Ptr(output));
        LaunchElementwise(Function("sum_to.cu", $"sum_to_finish_{sfx}"), outputs, finishArgs);
    }

    /// <summary>The launch of sum_to_cols (sum_to.cu); mirrored by tests/cuda-emulation/sum_to_check.cpp.</summary>
    /// <param name="Rows">Threads per output column of a block (a power of two; cols · Rows ≤ 256).</param>
    /// <param name="ColBlocks">Blocks across the outputs: ⌈outputs / cols⌉.</param>
    /// <param name="Splits">Chunks of the reduced index (blocks along it); 1 writes the output directly.</param>
    /// <param name="RowsPerSplit">Reduced elements per chunk.</param>
    private readonly record struct SumToPlan(int Rows, long ColBlocks, long Splits, long RowsPerSplit);

    // Rows: as many as fit 256 threads, fewer when the reduced range is shorter. Splits: enough blocks for
    // SumToColumnBlocksPerMultiprocessor per multiprocessor (a full wave of 256-thread blocks on an H200), but at
    // least SumToMinLoadsPerThread loads per thread. Measured on the H200 (AiM-B training step, batch 32): 125 calls,
    // 4.8 ms (was 128 ms); the constants were not swept.
    private static SumToPlan SumToColumnPlan(long outputs, long perOutput, int cols, int multiprocessors)
    {
        int rows = (int)Math.Min(SumToThreads / cols, PowerOfTwoAtLeast(perOutput));
        long colBlocks = (outputs + cols - 1) / cols;
        long target = (long)multiprocessors * SumToColumnBlocksPerMultiprocessor;
        long splits = Math.Min((target + colBlocks - 1) / colBlocks, perOutput / ((long)rows * SumToMinLoadsPerThread));
        splits = Math.Clamp(splits, 1, SumToMaxSplits);
        long rowsPerSplit = Math.Max((perOutput + splits - 1) / splits, 1);
        splits = Math.Max((perOutput + rowsPerSplit - 1) / rowsPerSplit, 1);
        return new SumToPlan(rows, colBlocks, splits, rowsPerSplit);
    }

    // The smallest power of two ≥ max(n, 1).
    private static long PowerOfTwoAtLeast(long n) => (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(n, 1));
}

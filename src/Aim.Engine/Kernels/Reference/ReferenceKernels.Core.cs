using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: Fill, Copy, Binary, Unary, UnaryBackward, Affine, SumTo, Gemm (reference versions).
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void Fill(double value, Tensor output)
    {
        KernelChecks.Contiguous(nameof(Fill), "output", output);
        byte* p = (byte*)output.DataPointer;
        for (long i = 0; i < output.Count; i++) Write(p, output.DType, i, value);
    }

    /// <inheritdoc />
    public virtual void Copy(Tensor source, Tensor output)
    {
        if (source.Count != output.Count)
            throw new ArgumentException($"Copy: source {Tensor.ShapeString(source.Shape)} and output {Tensor.ShapeString(output.Shape)} differ in size");
        byte* src = (byte*)source.DataPointer;
        byte* dst = (byte*)output.DataPointer;
        bool integral = !source.DType.IsFloat() && !output.DType.IsFloat();
        for (long i = 0; i < output.Count; i++)
        {
            long at = StridedIndex.Offset(source, i), to = StridedIndex.Offset(output, i);
            if (integral) WriteLong(dst, output.DType, to, ReadLong(src, source.DType, at));
            else Write(dst, output.DType, to, Read(src, source.DType, at));
        }
    }

    /// <inheritdoc />
    public virtual void Binary(BinaryOp op, Tensor a, Tensor b, Tensor output)
    {
        KernelChecks.SameShape($"Binary({op})", a, output);
        KernelChecks.SameShape($"Binary({op})", b, output);
        KernelChecks.SameDType($"Binary({op})", a, b, output);
        KernelChecks.Contiguous($"Binary({op})", "output", output);
        if (IsDouble($"Binary({op})", output.DType)) BinaryT<double>(op, a, b, output);
        else BinaryT<float>(op, a, b, output);
    }

    private static void BinaryT<T>(BinaryOp op, Tensor a, Tensor b, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pa = (T*)a.DataPointer, pb = (T*)b.DataPointer, po = (T*)output.DataPointer;
        for (long i = 0; i < output.Count; i++)
        {
            T x = pa[StridedIndex.Offset(a, i)], y = pb[StridedIndex.Offset(b, i)];
            po[i] = op switch
            {
                BinaryOp.Add => x + y,
                BinaryOp.Sub => x - y,
                BinaryOp.Mul => x * y,
                BinaryOp.Div => x / y,
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
        }
    }

    /// <inheritdoc />
    public virtual void Unary(UnaryOp op, Tensor x, Tensor output)
    {
        KernelChecks.SameShape($"Unary({op})", x, output);
        KernelChecks.SameDType($"Unary({op})", x, output);
        KernelChecks.Contiguous($"Unary({op})", "x", x);
        KernelChecks.Contiguous($"Unary({op})", "output", output);
        if (IsDouble($"Unary({op})", x.DType)) UnaryT<double>(op, x, output);
        else UnaryT<float>(op, x, output);
    }

    private static void UnaryT<T>(UnaryOp op, Tensor x, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        for (long i = 0; i < x.Count; i++) po[i] = UnaryScalar(op, px[i]);
    }

    /// <summary>The scalar definition of each unary op (shared by the reference and SIMD tails).</summary>
    public static T UnaryScalar<T>(UnaryOp op, T v) where T : IFloatingPointIeee754<T>
    {
        return op switch
        {
            UnaryOp.Neg => -v,
            UnaryOp.Exp => T.Exp(v),
            UnaryOp.Log => T.Log(v),
            UnaryOp.Sqrt => T.Sqrt(v),
            UnaryOp.Square => v * v,
            UnaryOp.Silu => v / (T.One + T.Exp(-v)),
            UnaryOp.Sigmoid => T.One / (T.One + T.Exp(-v)),
            // The original's softplus passes x through above 20 (where ln(1+e^x) == x in float32 anyway).
            UnaryOp.Softplus => v > T.CreateChecked(20) ? v : T.Log(T.One + T.Exp(v)),
            UnaryOp.Tanh => T.Tanh(v),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    /// <summary>d op(v) / dv.</summary>
    public static T UnaryDerivative<T>(UnaryOp op, T v) where T : IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: return -T.One;
            case UnaryOp.Exp: return T.Exp(v);
            case UnaryOp.Log: return T.One / v;
            case UnaryOp.Sqrt: return T.One / (T.CreateChecked(2) * T.Sqrt(v));
            case UnaryOp.Square: return T.CreateChecked(2) * v;
            case UnaryOp.Silu:
            {
                T s = T.One / (T.One + T.Exp(-v));
                return s * (T.One + v * (T.One - s));
            }
            case UnaryOp.Sigmoid:
            {
                T s = T.One / (T.One + T.Exp(-v));
                return s * (T.One - s);
            }
            case UnaryOp.Softplus: return v > T.CreateChecked(20) ? T.One : T.One / (T.One + T.Exp(-v));
            case UnaryOp.Tanh:
            {
                T t = T.Tanh(v);
                return T.One - t * t;
            }
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    /// <inheritdoc />
    public virtual void UnaryBackward(UnaryOp op, Tensor x, Tensor dOutput, Tensor dInput)
    {
        string name = $"UnaryBackward({op})";
        KernelChecks.SameShape(name, x, dOutput);
        KernelChecks.SameShape(name, x, dInput);
        KernelChecks.SameDType(name, x, dOutput, dInput);
        if (IsDouble(name, x.DType)) UnaryBackwardT<double>(op, x, dOutput, dInput);
        else UnaryBackwardT<float>(op, x, dOutput, dInput);
    }

    private static void UnaryBackwardT<T>(UnaryOp op, Tensor x, Tensor dOutput, Tensor dInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pd = (T*)dInput.DataPointer;
        for (long i = 0; i < x.Count; i++) pd[i] = pg[i] * UnaryDerivative(op, px[i]);
    }

    /// <inheritdoc />
    public virtual void Affine(Tensor x, double scale, double shift, Tensor output)
    {
        KernelChecks.SameShape(nameof(Affine), x, output);
        KernelChecks.SameDType(nameof(Affine), x, output);
        if (IsDouble(nameof(Affine), x.DType))
        {
            double* px = (double*)x.DataPointer, po = (double*)output.DataPointer;
            for (long i = 0; i < x.Count; i++) po[i] = px[i] * scale + shift;
        }
        else
        {
            float* px = (float*)x.DataPointer, po = (float*)output.DataPointer;
            for (long i = 0; i < x.Count; i++) po[i] = (float)(px[i] * scale + shift);
        }
    }

    /// <inheritdoc />
    public virtual void SumTo(Tensor x, Tensor output)
    {
        if (x.Rank != output.Rank)
            throw new ArgumentException($"SumTo: output {Tensor.ShapeString(output.Shape)} must have the rank of x {Tensor.ShapeString(x.Shape)}");
        for (int d = 0; d < x.Rank; d++)
            if (output.Shape[d] != x.Shape[d] && output.Shape[d] != 1)
                throw new ArgumentException($"SumTo: cannot sum {Tensor.ShapeString(x.Shape)} to {Tensor.ShapeString(output.Shape)}");
        KernelChecks.SameDType(nameof(SumTo), x, output);
        bool dbl = IsDouble(nameof(SumTo), x.DType);
        var acc = new double[output.Count];
        // Broadcast view of the output over x's shape: reduced dims get stride 0.
        var outStrides = Tensor.ContiguousStrides(output.Shape);
        byte* px = (byte*)x.DataPointer;
        for (long i = 0; i < x.Count; i++)
        {
            long rem = i, o = 0;
            for (int d = x.Rank - 1; d >= 0; d--)
            {
                long idx = rem % x.Shape[d];
                rem /= x.Shape[d];
                if (output.Shape[d] != 1) o += idx * outStrides[d];
            }
            acc[o] += Read(px, x.DType, StridedIndex.Offset(x, i));
        }
        byte* po = (byte*)output.DataPointer;
        for (long i = 0; i < acc.Length; i++) Write(po, dbl ? DType.Float64 : DType.Float32, i, acc[i]);
    }

    /// <inheritdoc />
    public virtual void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta)
    {
        var (batch, m, n, k, strideA, strideB) = GemmShapes(a, b, c, transA, transB);
        IsDouble(nameof(Gemm), c.DType); // rejects non-float dtypes
        byte* pa = (byte*)a.DataPointer, pb = (byte*)b.DataPointer, pc = (byte*)c.DataPointer;
        var dt = c.DType;
        var aType = a.DType;
        var bt = b.DType;
        for (int bi = 0; bi < batch; bi++)
        {
            long aBase = bi * strideA, bBase = bi * strideB, cBase = (long)bi * m * n;
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double av = Read(pa, aType, aBase + (transA ? (long)p * m + i : (long)i * k + p));
                        double bv = Read(pb, bt, bBase + (transB ? (long)j * k + p : (long)p * n + j));
                        sum += av * bv;
                    }
                    long at = cBase + (long)i * n + j;
                    double prev = beta == 0 ? 0 : beta * Read(pc, dt, at);
                    Write(pc, dt, at, alpha * sum + prev);
                }
            }
        }
    }

    /// <summary>Validates GEMM operands; returns batch, M, N, K and the per-batch element strides of a and b (0 when shared).</summary>
    public static (int Batch, int M, int N, int K, long StrideA, long StrideB) GemmShapes(Tensor a, Tensor b, Tensor c, bool transA, bool transB)
    {
        KernelChecks.Rank(nameof(Gemm), "a", a, 3);
        KernelChecks.Rank(nameof(Gemm), "b", b, 3);
        KernelChecks.Rank(nameof(Gemm), "c", c, 3);
        // Mixed precision (autocast): a and b both bf16 with an f32 c (bf16 products, f32 accumulation and result).
        bool bf16Operands = a.DType == DType.BFloat16 && b.DType == DType.BFloat16 && c.DType == DType.Float32;
        if (!bf16Operands) KernelChecks.SameDType(nameof(Gemm), a, c);
        // Weight-only bf16: b may be stored in bf16 when a and c are f32 (the product is computed in f32).
        if (b.DType != c.DType && !(b.DType == DType.BFloat16 && c.DType == DType.Float32))
            throw new ArgumentException($"Gemm: b is {b.DType.ShortName()}, expected {c.DType.ShortName()} (or bf16 weights with f32 a and c)");
        KernelChecks.Contiguous(nameof(Gemm), "a", a);
        KernelChecks.Contiguous(nameof(Gemm), "b", b);
        KernelChecks.Contiguous(nameof(Gemm), "c", c);
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2];
        int am = transA ? a.Shape[2] : a.Shape[1], ak = transA ? a.Shape[1] : a.Shape[2];
        int bk = transB ? b.Shape[2] : b.Shape[1], bn = transB ? b.Shape[1] : b.Shape[2];
        if (am != m || bn != n || ak != bk || (a.Shape[0] != batch && a.Shape[0] != 1) || (b.Shape[0] != batch && b.Shape[0] != 1))
            throw new ArgumentException(
                $"Gemm: a {Tensor.ShapeString(a.Shape)}{(transA ? "^T" : "")} x b {Tensor.ShapeString(b.Shape)}{(transB ? "^T" : "")} does not give c {Tensor.ShapeString(c.Shape)}");
        long strideA = a.Shape[0] == 1 ? 0 : (long)m * ak;
        long strideB = b.Shape[0] == 1 ? 0 : (long)bk * n;
        return (batch, m, n, ak, strideA, strideB);
    }

    // ---- element access by dtype (reference only)

    /// <summary>Reads element <paramref name="index"/> of a buffer of <paramref name="dtype"/> as a double.</summary>
    protected static double Read(byte* p, DType dtype, long index) => dtype switch
    {
        DType.Float32 => ((float*)p)[index],
        DType.Float64 => ((double*)p)[index],
        DType.BFloat16 => ((BFloat16*)p)[index].ToSingle(),
        DType.Int32 => ((int*)p)[index],
        DType.Int64 => ((long*)p)[index],
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Writes a double, rounding to the buffer's dtype.</summary>
    protected static void Write(byte* p, DType dtype, long index, double v)
    {
        switch (dtype)
        {
            case DType.Float32: ((float*)p)[index] = (float)v; break;
            case DType.Float64: ((double*)p)[index] = v; break;
            case DType.BFloat16: ((BFloat16*)p)[index] = BFloat16.FromSingle((float)v); break;
            case DType.Int32: ((int*)p)[index] = checked((int)v); break;
            case DType.Int64: ((long*)p)[index] = checked((long)v); break;
            default: throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    private static long ReadLong(byte* p, DType dtype, long index) => dtype == DType.Int32 ? ((int*)p)[index] : ((long*)p)[index];

    private static void WriteLong(byte* p, DType dtype, long index, long v)
    {
        if (dtype == DType.Int32) ((int*)p)[index] = checked((int)v);
        else ((long*)p)[index] = v;
    }
}

// Fast CPU versions of the core kernels (IKernels.Core.cs) for float32 contiguous layouts: SIMD through
// the vector functions of CpuVectorMath.cs (Vector512 when accelerated, else Vector256), threads through
// CpuParallel.For with chunking that depends only on the size. Vector tails run through a padded vector,
// so an element's value does not depend on its position. Anything else falls back to the reference (base).
// GEMM goes to Gemm/Sgemm.cs.
using System.Runtime.Intrinsics;
using Aim.Engine.Backends.Cpu.Gemm;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Fill, Copy, Binary, Unary, UnaryBackward, Affine, SumTo, Gemm (SIMD + threads, float32).
public unsafe partial class CpuKernels
{
    private const long CheapGrain = 1 << 16;
    private const long MathGrain = 1 << 13;

    private static bool Simd => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    private static bool IsF32Contiguous(Tensor t) => t.DType == DType.Float32 && t.IsContiguous;

    // ------------------------------------------------------------------ Fill, Copy

    /// <inheritdoc />
    public override void Fill(double value, Tensor output)
    {
        if (!IsF32Contiguous(output))
        {
            base.Fill(value, output);
            return;
        }
        float* p = (float*)output.DataPointer;
        float v = (float)value;
        CpuParallel.For(output.Count, 1 << 18, (s, e) => new Span<float>(p + s, checked((int)(e - s))).Fill(v));
    }

    /// <inheritdoc />
    public override void Copy(Tensor source, Tensor output)
    {
        if (source.Count != output.Count || source.Count == 0)
        {
            base.Copy(source, output);
            return;
        }
        bool contiguous = source.IsContiguous && output.IsContiguous;
        if (source.DType == output.DType)
        {
            int size = source.DType.SizeOf();
            if (contiguous)
            {
                byte* src = (byte*)source.DataPointer, dst = (byte*)output.DataPointer;
                if (src == dst) return;
                CpuParallel.For(source.Count * size, 1 << 20, (s, e) => Buffer.MemoryCopy(src + s, dst + s, e - s, e - s));
            }
            else if (source.Shape.SequenceEqual(output.Shape) && size is 2 or 4 or 8)
            {
                if (size == 2) CopyStrided<ushort>(source, output);
                else if (size == 4) CopyStrided<uint>(source, output);
                else CopyStrided<ulong>(source, output);
            }
            else base.Copy(source, output);
        }
        else if (contiguous && source.DType == DType.Float32 && output.DType == DType.BFloat16)
        {
            float* src = (float*)source.DataPointer;
            ushort* dst = (ushort*)output.DataPointer;
            CpuParallel.For(source.Count, CheapGrain, (s, e) => ToBFloat16(src + s, dst + s, e - s));
        }
        else if (contiguous && source.DType == DType.BFloat16 && output.DType == DType.Float32)
        {
            ushort* src = (ushort*)source.DataPointer;
            float* dst = (float*)output.DataPointer;
            CpuParallel.For(source.Count, CheapGrain, (s, e) => FromBFloat16(src + s, dst + s, e - s));
        }
        else base.Copy(source, output);
    }

    /// <summary>Same-shape strided copy: an odometer over the leading dimensions, a strided run over the last.</summary>
    private static void CopyStrided<T>(Tensor source, Tensor output) where T : unmanaged
    {
        int rank = source.Rank;
        int inner = rank == 0 ? 1 : source.Shape[^1];
        long rows = source.Count / inner;
        long ss = rank == 0 ? 0 : source.Strides[^1], os = rank == 0 ? 0 : output.Strides[^1];
        int[] shape = source.Shape.ToArray();
        long[] sStrides = source.Strides.ToArray(), oStrides = output.Strides.ToArray();
        T* src = (T*)source.DataPointer, dst = (T*)output.DataPointer;
        CpuParallel.For(rows, Math.Max(1, CheapGrain / inner), (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                long rem = r, so = 0, oo = 0;
                for (int d = rank - 2; d >= 0; d--)
                {
                    long idx = rem % shape[d];
                    rem /= shape[d];
                    so += idx * sStrides[d];
                    oo += idx * oStrides[d];
                }
                T* s = src + so;
                T* o = dst + oo;
                if (ss == 1 && os == 1) new ReadOnlySpan<T>(s, inner).CopyTo(new Span<T>(o, inner));
                else for (int j = 0; j < inner; j++) o[j * os] = s[j * ss];
            }
        });
    }

    private static void ToBFloat16(float* src, ushort* dst, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                var lo = RoundToBf16(Vector512.Load((uint*)(src + i)));
                var hi = RoundToBf16(Vector512.Load((uint*)(src + i + 16)));
                Vector512.Narrow(lo, hi).Store(dst + i);
            }
        }
        for (; i < n; i++) dst[i] = BFloat16.FromSingle(src[i]).Bits;
    }

    /// <summary>The rounding of <see cref="BFloat16.FromSingle"/> on 16 lanes (nearest even; NaN kept quiet).</summary>
    private static Vector512<uint> RoundToBf16(Vector512<uint> u)
    {
        var isNan = Vector512.GreaterThan(u & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        var rounded = (u + Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(isNan, (u >> 16) | Vector512.Create(0x40u), rounded);
    }

    private static void FromBFloat16(ushort* src, float* dst, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(src + i));
                (lo << 16).Store((uint*)(dst + i));
                (hi << 16).Store((uint*)(dst + i + 16));
            }
        }
        for (; i < n; i++) dst[i] = BFloat16.FromBits(src[i]).ToSingle();
    }

    // ------------------------------------------------------------------ Unary, UnaryBackward, Affine

    /// <inheritdoc />
    public override void Unary(UnaryOp op, Tensor x, Tensor output)
    {
        if (!Simd || !IsF32Contiguous(x) || !IsF32Contiguous(output) || !x.Shape.SequenceEqual(output.Shape))
        {
            base.Unary(op, x, output);
            return;
        }
        float* px = (float*)x.DataPointer, po = (float*)output.DataPointer;
        long n = x.Count;
        switch (op)
        {
            case UnaryOp.Neg: RunUnary<VNeg>(px, po, n, CheapGrain); break;
            case UnaryOp.Exp: RunUnary<VExp>(px, po, n, MathGrain); break;
            case UnaryOp.Log: RunUnary<VLog>(px, po, n, MathGrain); break;
            case UnaryOp.Sqrt: RunUnary<VSqrt>(px, po, n, CheapGrain); break;
            case UnaryOp.Square: RunUnary<VSquare>(px, po, n, CheapGrain); break;
            case UnaryOp.Silu: RunUnary<VSilu>(px, po, n, MathGrain); break;
            case UnaryOp.Sigmoid: RunUnary<VSigmoid>(px, po, n, MathGrain); break;
            case UnaryOp.Softplus: RunUnary<VSoftplus>(px, po, n, MathGrain); break;
            case UnaryOp.Tanh: RunUnary<VTanh>(px, po, n, MathGrain); break;
            default: base.Unary(op, x, output); break;
        }
    }

    private static void RunUnary<TF>(float* x, float* y, long n, long grain) where TF : IVecUnary
        => CpuParallel.For(n, grain, (s, e) => MapUnary<TF>(x + s, y + s, e - s));

    private static void MapUnary<TF>(float* x, float* y, long n) where TF : IVecUnary
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16) TF.Apply(Vector512.Load(x + i)).Store(y + i);
            if (i < n)
            {
                float* t = stackalloc float[16];
                Pad(x + i, n - i, t, 16);
                TF.Apply(Vector512.Load(t)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
        else
        {
            for (; i + 8 <= n; i += 8) TF.Apply(Vector256.Load(x + i)).Store(y + i);
            if (i < n)
            {
                float* t = stackalloc float[8];
                Pad(x + i, n - i, t, 8);
                TF.Apply(Vector256.Load(t)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
    }

    /// <summary>Copies a tail of n &lt; width values into a vector-sized buffer padded with ones.</summary>
    private static void Pad(float* src, long n, float* t, int width)
    {
        for (int j = 0; j < width; j++) t[j] = j < n ? src[j] : 1f;
    }

    private static void Unpad(float* t, float* dst, long n)
    {
        for (int j = 0; j < n; j++) dst[j] = t[j];
    }

    /// <inheritdoc />
    public override void UnaryBackward(UnaryOp op, Tensor x, Tensor dOutput, Tensor dInput)
    {
        if (!Simd || !IsF32Contiguous(x) || !IsF32Contiguous(dOutput) || !IsF32Contiguous(dInput)
            || !x.Shape.SequenceEqual(dOutput.Shape) || !x.Shape.SequenceEqual(dInput.Shape))
        {
            base.UnaryBackward(op, x, dOutput, dInput);
            return;
        }
        float* px = (float*)x.DataPointer, pg = (float*)dOutput.DataPointer, pd = (float*)dInput.DataPointer;
        long n = x.Count;
        switch (op)
        {
            case UnaryOp.Neg: RunGrad<GNeg>(px, pg, pd, n, CheapGrain); break;
            case UnaryOp.Exp: RunGrad<GExp>(px, pg, pd, n, MathGrain); break;
            case UnaryOp.Log: RunGrad<GLog>(px, pg, pd, n, CheapGrain); break;
            case UnaryOp.Sqrt: RunGrad<GSqrt>(px, pg, pd, n, CheapGrain); break;
            case UnaryOp.Square: RunGrad<GSquare>(px, pg, pd, n, CheapGrain); break;
            case UnaryOp.Silu: RunGrad<GSilu>(px, pg, pd, n, MathGrain); break;
            case UnaryOp.Sigmoid: RunGrad<GSigmoid>(px, pg, pd, n, MathGrain); break;
            case UnaryOp.Softplus: RunGrad<GSoftplus>(px, pg, pd, n, MathGrain); break;
            case UnaryOp.Tanh: RunGrad<GTanh>(px, pg, pd, n, MathGrain); break;
            default: base.UnaryBackward(op, x, dOutput, dInput); break;
        }
    }

    private static void RunGrad<TF>(float* x, float* g, float* d, long n, long grain) where TF : IVecUnaryGrad
        => CpuParallel.For(n, grain, (s, e) => MapGrad<TF>(x + s, g + s, d + s, e - s));

    private static void MapGrad<TF>(float* x, float* g, float* d, long n) where TF : IVecUnaryGrad
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16) TF.Apply(Vector512.Load(x + i), Vector512.Load(g + i)).Store(d + i);
            if (i < n)
            {
                float* t = stackalloc float[32];
                Pad(x + i, n - i, t, 16);
                Pad(g + i, n - i, t + 16, 16);
                TF.Apply(Vector512.Load(t), Vector512.Load(t + 16)).Store(t);
                Unpad(t, d + i, n - i);
            }
        }
        else
        {
            for (; i + 8 <= n; i += 8) TF.Apply(Vector256.Load(x + i), Vector256.Load(g + i)).Store(d + i);
            if (i < n)
            {
                float* t = stackalloc float[16];
                Pad(x + i, n - i, t, 8);
                Pad(g + i, n - i, t + 8, 8);
                TF.Apply(Vector256.Load(t), Vector256.Load(t + 8)).Store(t);
                Unpad(t, d + i, n - i);
            }
        }
    }

    /// <inheritdoc />
    public override void Affine(Tensor x, double scale, double shift, Tensor output)
    {
        if (!Simd || !IsF32Contiguous(x) || !IsF32Contiguous(output) || !x.Shape.SequenceEqual(output.Shape))
        {
            base.Affine(x, scale, shift, output);
            return;
        }
        float* px = (float*)x.DataPointer, po = (float*)output.DataPointer;
        float s = (float)scale, h = (float)shift;
        CpuParallel.For(x.Count, CheapGrain, (start, end) =>
        {
            long i = start;
            if (Vector512.IsHardwareAccelerated)
            {
                var vs = Vector512.Create(s);
                var vh = Vector512.Create(h);
                for (; i + 16 <= end; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(px + i), vs, vh).Store(po + i);
            }
            else
            {
                var vs = Vector256.Create(s);
                var vh = Vector256.Create(h);
                for (; i + 8 <= end; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(px + i), vs, vh).Store(po + i);
            }
            for (; i < end; i++) po[i] = MathF.FusedMultiplyAdd(px[i], s, h);
        });
    }

    // ------------------------------------------------------------------ Binary

    /// <inheritdoc />
    public override void Binary(BinaryOp op, Tensor a, Tensor b, Tensor output)
    {
        bool ok = Simd && a.DType == DType.Float32 && b.DType == DType.Float32 && IsF32Contiguous(output)
            && a.Shape.SequenceEqual(output.Shape) && b.Shape.SequenceEqual(output.Shape);
        bool done = ok && op switch
        {
            BinaryOp.Add => TryBinary<BAdd>(a, b, output),
            BinaryOp.Sub => TryBinary<BSub>(a, b, output),
            BinaryOp.Mul => TryBinary<BMul>(a, b, output),
            BinaryOp.Div => TryBinary<BDiv>(a, b, output),
            _ => false,
        };
        if (!done) base.Binary(op, a, b, output);
    }

    /// <summary>
    /// Handles a and b both contiguous, or one contiguous and the other a row repeated over leading dimensions
    /// (stride 0 there) or a per-row value repeated along trailing dimensions, or both with contiguous rows of at
    /// least 16 values (any strides across rows); false for any other layout.
    /// </summary>
    private static bool TryBinary<TF>(Tensor a, Tensor b, Tensor output) where TF : IVecBinary
    {
        float* pa = (float*)a.DataPointer, pb = (float*)b.DataPointer, po = (float*)output.DataPointer;
        long n = output.Count;
        if (n == 0) return true;
        bool ca = a.IsContiguous, cb = b.IsContiguous;
        if (ca && cb)
        {
            CpuParallel.For(n, CheapGrain, (s, e) => MapBinary<TF>(pa + s, pb + s, po + s, e - s));
            return true;
        }
        if (ca || cb)
        {
            Tensor other = ca ? b : a;
            bool otherIsA = !ca;
            if (RowBroadcast(other, out long len) && len > 1)
            {
                // out[r, j] = a[r, j] (op) row[j]  (or row[j] (op) b[r, j])
                long rows = n / len;
                CpuParallel.For(rows, Math.Max(1, CheapGrain / len), (s, e) =>
                {
                    for (long r = s; r < e; r++)
                    {
                        long o = r * len;
                        if (otherIsA) MapBinary<TF>(pa, pb + o, po + o, len);
                        else MapBinary<TF>(pa + o, pb, po + o, len);
                    }
                });
                return true;
            }
            if (ColumnBroadcast(other, out len))
            {
                // out[r, j] = a[r, j] (op) col[r]  (or col[r] (op) b[r, j]); len = 1 only when everything is broadcast.
                long rows = n / len;
                CpuParallel.For(rows, Math.Max(1, CheapGrain / len), (s, e) =>
                {
                    for (long r = s; r < e; r++)
                    {
                        long o = r * len;
                        if (otherIsA) MapScalarBinary<TF>(pa[r], pb + o, po + o, len, scalarFirst: true);
                        else MapScalarBinary<TF>(pb[r], pa + o, po + o, len, scalarFirst: false);
                    }
                });
                return true;
            }
        }
        // Any other layout whose rows (last dimension) are contiguous in both operands — column slices, reshaped views —
        // row by row with the vector loop; rows shorter than a vector stay on the generic path.
        int last = output.Shape[^1];
        if (last >= 16 && a.Strides[^1] == 1 && b.Strides[^1] == 1)
        {
            long rows = n / last;
            int rank = output.Rank;
            var shape = output.Shape.ToArray();
            var sa = a.Strides.ToArray();
            var sb = b.Strides.ToArray();
            CpuParallel.For(rows, Math.Max(1, CheapGrain / last), (s, e) =>
            {
                for (long r = s; r < e; r++)
                {
                    long oa = 0, ob = 0, q = r;
                    for (int d = rank - 2; d >= 0; d--)
                    {
                        long i = q % shape[d];
                        q /= shape[d];
                        oa += i * sa[d];
                        ob += i * sb[d];
                    }
                    MapBinary<TF>(pa + oa, pb + ob, po + r * last, last);
                }
            });
            return true;
        }
        return false;
    }

    /// <summary>
    /// True when <paramref name="t"/> is a contiguous block of the trailing dimensions (length <paramref name="len"/>)
    /// repeated with stride 0 over all leading dimensions.
    /// </summary>
    private static bool RowBroadcast(Tensor t, out long len)
    {
        var shape = t.Shape;
        var strides = t.Strides;
        int d = t.Rank;
        len = 1;
        while (d > 0 && (shape[d - 1] == 1 || strides[d - 1] == len))
        {
            len *= shape[d - 1];
            d--;
        }
        for (int i = 0; i < d; i++)
            if (shape[i] != 1 && strides[i] != 0) return false;
        return true;
    }

    /// <summary>
    /// True when <paramref name="t"/> has stride 0 on its trailing dimensions (their size product is
    /// <paramref name="len"/>) and is contiguous over the leading ones: one value per row of the output.
    /// </summary>
    private static bool ColumnBroadcast(Tensor t, out long len)
    {
        var shape = t.Shape;
        var strides = t.Strides;
        int d = t.Rank;
        len = 1;
        while (d > 0 && (shape[d - 1] == 1 || strides[d - 1] == 0))
        {
            len *= shape[d - 1];
            d--;
        }
        long expected = 1;
        for (int i = d - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    private static void MapBinary<TF>(float* a, float* b, float* y, long n) where TF : IVecBinary
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16) TF.Apply(Vector512.Load(a + i), Vector512.Load(b + i)).Store(y + i);
            if (i < n)
            {
                float* t = stackalloc float[32];
                Pad(a + i, n - i, t, 16);
                Pad(b + i, n - i, t + 16, 16);
                TF.Apply(Vector512.Load(t), Vector512.Load(t + 16)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
        else
        {
            for (; i + 8 <= n; i += 8) TF.Apply(Vector256.Load(a + i), Vector256.Load(b + i)).Store(y + i);
            if (i < n)
            {
                float* t = stackalloc float[16];
                Pad(a + i, n - i, t, 8);
                Pad(b + i, n - i, t + 8, 8);
                TF.Apply(Vector256.Load(t), Vector256.Load(t + 8)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
    }

    /// <summary>y = s (op) v, or v (op) s when <paramref name="scalarFirst"/> is false.</summary>
    private static void MapScalarBinary<TF>(float s, float* v, float* y, long n, bool scalarFirst) where TF : IVecBinary
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
            {
                var x = Vector512.Load(v + i);
                (scalarFirst ? TF.Apply(vs, x) : TF.Apply(x, vs)).Store(y + i);
            }
            if (i < n)
            {
                float* t = stackalloc float[16];
                Pad(v + i, n - i, t, 16);
                var x = Vector512.Load(t);
                (scalarFirst ? TF.Apply(vs, x) : TF.Apply(x, vs)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
        else
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
            {
                var x = Vector256.Load(v + i);
                (scalarFirst ? TF.Apply(vs, x) : TF.Apply(x, vs)).Store(y + i);
            }
            if (i < n)
            {
                float* t = stackalloc float[8];
                Pad(v + i, n - i, t, 8);
                var x = Vector256.Load(t);
                (scalarFirst ? TF.Apply(vs, x) : TF.Apply(x, vs)).Store(t);
                Unpad(t, y + i, n - i);
            }
        }
    }

    // ------------------------------------------------------------------ SumTo

    /// <inheritdoc />
    public override void SumTo(Tensor x, Tensor output)
    {
        if (!Vector512.IsHardwareAccelerated || !IsF32Contiguous(x) || !IsF32Contiguous(output) || x.Rank != output.Rank || x.Count == 0)
        {
            base.SumTo(x, output);
            return;
        }
        int rank = x.Rank;
        var xs = x.Shape;
        var os = output.Shape;
        // Trailing: output keeps dims [0, dt) and is 1 on [dt, rank): a sum over the last dims of each row.
        int dt = rank;
        while (dt > 0 && os[dt - 1] == 1) dt--;
        bool trailing = true;
        for (int i = 0; i < dt; i++) trailing &= os[i] == xs[i];
        // Leading: output is 1 on [0, dl) and keeps [dl, rank): a sum over rows of each column.
        int dl = 0;
        while (dl < rank && os[dl] == 1) dl++;
        bool leading = true;
        for (int i = dl; i < rank; i++) leading &= os[i] == xs[i];
        float* px = (float*)x.DataPointer, po = (float*)output.DataPointer;
        long trailLen = 1, leadRows = 1;
        for (int i = dt; i < rank; i++) trailLen *= xs[i];
        for (int i = 0; i < dl; i++) leadRows *= xs[i];
        if (trailing && trailLen > 1)
        {
            long rows = x.Count / trailLen;
            CpuParallel.For(rows, Math.Max(1, CheapGrain / trailLen), (s, e) =>
            {
                for (long r = s; r < e; r++) po[r] = (float)RowSum(px + r * trailLen, trailLen);
            });
        }
        else if (leading)
        {
            long cols = x.Count / leadRows;
            const long Block = 64;
            CpuParallel.For((cols + Block - 1) / Block, Math.Max(1, CheapGrain / (leadRows * Block)), (s, e) =>
            {
                for (long blk = s; blk < e; blk++)
                {
                    long c0 = blk * Block, c1 = Math.Min(cols, c0 + Block);
                    ColumnSums(px, leadRows, cols, c0, c1, po);
                }
            });
        }
        else base.SumTo(x, output);
    }

    /// <summary>Σ x[0..n) accumulated in double (16 float lanes widened to two double vectors).</summary>
    private static double RowSum(float* x, long n)
    {
        var lo = Vector512<double>.Zero;
        var hi = Vector512<double>.Zero;
        long i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var (l, h) = Vector512.Widen(Vector512.Load(x + i));
            lo += l;
            hi += h;
        }
        double s = Vector512.Sum(lo + hi);
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>output[c] = Σ_r x[r, c] for columns [c0, c1), accumulated in double, rows in order.</summary>
    private static void ColumnSums(float* x, long rows, long cols, long c0, long c1, float* output)
    {
        long c = c0;
        for (; c + 16 <= c1; c += 16)
        {
            var lo = Vector512<double>.Zero;
            var hi = Vector512<double>.Zero;
            for (long r = 0; r < rows; r++)
            {
                var (l, h) = Vector512.Widen(Vector512.Load(x + r * cols + c));
                lo += l;
                hi += h;
            }
            Vector512.Narrow(lo, hi).Store(output + c);
        }
        for (; c < c1; c++)
        {
            double s = 0;
            for (long r = 0; r < rows; r++) s += x[r * cols + c];
            output[c] = (float)s;
        }
    }

    // ------------------------------------------------------------------ Gemm

    /// <inheritdoc />
    public override void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta)
    {
        if (c.DType != DType.Float32)
        {
            base.Gemm(a, b, c, transA, transB, alpha, beta);
            return;
        }
        var (batch, m, n, k, strideA, strideB) = GemmShapes(a, b, c, transA, transB);
        if (a.DType == DType.BFloat16)
        {
            // bf16 a and b with f32 c (autocast): bf16 products are exact in f32, so widening a here (and b below)
            // and running the f32 GEMM gives bf16 products with f32 accumulation.
            using var wideA = Tensor.Empty(a.Shape, DType.Float32);
            TensorScope.Detach(wideA);
            FromBFloat16((ushort*)a.DataPointer, (float*)wideA.DataPointer, a.Count);
            GemmBf16Weights(wideA, b, c, batch, m, n, k, strideA, strideB, transA, transB, (float)alpha, (float)beta);
            return;
        }
        if (b.DType == DType.BFloat16)
        {
            GemmBf16Weights(a, b, c, batch, m, n, k, strideA, strideB, transA, transB, (float)alpha, (float)beta);
            return;
        }
        Sgemm.Run((float*)a.DataPointer, (float*)b.DataPointer, (float*)c.DataPointer, batch, m, n, k, strideA, strideB,
            transA, transB, (float)alpha, (float)beta);
    }

    /// <summary>
    /// f32 activations × bf16-stored weights. Few rows (decoding) stream the bf16 weights directly, which halves the
    /// bytes the bandwidth-bound step reads; otherwise the weights are widened to f32 once and the packed GEMM runs.
    /// </summary>
    private static void GemmBf16Weights(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, long strideA, long strideB,
        bool transA, bool transB, float alpha, float beta)
    {
        if (transB && !transA && m <= SkinnyBf16.MaxRows && Vector512.IsHardwareAccelerated)
        {
            SkinnyBf16.Run((float*)a.DataPointer, (ushort*)b.DataPointer, (float*)c.DataPointer, batch, m, n, k, strideA, strideB, alpha, beta);
            return;
        }
        using var wide = Tensor.Empty(b.Shape, DType.Float32);
        TensorScope.Detach(wide);
        FromBFloat16((ushort*)b.DataPointer, (float*)wide.DataPointer, b.Count);
        Sgemm.Run((float*)a.DataPointer, (float*)wide.DataPointer, (float*)c.DataPointer, batch, m, n, k, strideA, strideB,
            transA, transB, alpha, beta);
    }
}

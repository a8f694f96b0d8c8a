using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: fast float32 Conv2d (+ both backward kernels), UpsampleNearest2x(+Backward), L2Normalize(+Backward) and
// NearestCode. Convolutions are im2col + the contract's Gemm (so they use whatever Gemm this class has), one band of
// output rows at a time to bound the scratch memory; 1x1 unpadded stride-1 convolutions are a Gemm on the input itself;
// the input gradient is Gemm + col2im.
// Everything else is threaded over planes or rows with CpuParallel (chunking depends only on sizes).
public unsafe partial class CpuKernels
{
    /// <summary>Elements of work below which a parallel chunk is not worth a thread.</summary>
    private const long ConvGrain = 1 << 15;

    private static bool AllContiguousFloat32(params ReadOnlySpan<Tensor?> ts)
    {
        foreach (var t in ts)
            if (t is not null && (t.DType != DType.Float32 || !t.IsContiguous)) return false;
        return true;
    }

    /// <summary>A (a, b, c) contiguous view of t's storage starting <paramref name="offset"/> elements after t's first element.</summary>
    private static Tensor View3(Tensor t, int a, int b, int c, long offset)
    {
        int[] shape = [a, b, c];
        return t.CreateView(shape, Tensor.ContiguousStrides(shape), t.Offset + offset);
    }

    /// <summary>
    /// Largest im2col band in elements (default 2^23, 32 MB of float32): big layers are unfolded a band of output rows
    /// at a time. Tests lower it to exercise the banded path on small images.
    /// </summary>
    internal long ColumnBudget { get; init; } = 1 << 23;

    /// <summary>Output rows per im2col band: as many as fit <see cref="ColumnBudget"/>, at least one.</summary>
    private int BandRows(Conv2dGeometry g) => (int)Math.Clamp(ColumnBudget / Math.Max(1L, (long)g.PatchSize * g.Wo), 1, g.Ho);

    /// <inheritdoc />
    public override void Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor output)
    {
        if (!AllContiguousFloat32(x, weight, bias, output))
        {
            base.Conv2d(x, weight, bias, stride, padTop, padBottom, padLeft, padRight, output);
            return;
        }
        var g = CheckConv2d(nameof(Conv2d), x.Shape, weight, output, stride, padTop, padBottom, padLeft, padRight);
        if (bias is not null) KernelChecks.Shape(nameof(Conv2d), "bias", bias, g.Cout);
        if (output.Count == 0) return;
        int k = g.PatchSize, p = g.OutputPixels;
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        double beta = bias is null ? 0.0 : 1.0;
        using var w3 = View3(weight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            // y[n] (Cout, HW) = W (Cout, Cin) · x[n] (Cin, HW) (+ bias): the input is its own im2col matrix.
            for (int n = 0; n < g.N; n++)
            {
                using var y3 = View3(output, 1, g.Cout, p, n * imageOut);
                using var x3 = View3(x, 1, g.Cin, p, n * imageIn);
                if (bias is not null) FillRows((float*)y3.DataPointer, p, (float*)bias.DataPointer, g.Cout, p);
                Gemm(w3, x3, y3, false, false, 1.0, beta);
            }
            return;
        }
        int band = BandRows(g);
        bool whole = band == g.Ho;
        using var col = Tensor.Empty([k * band * g.Wo]);
        using var yBand = whole ? null : Tensor.Empty([g.Cout * band * g.Wo]);
        for (int n = 0; n < g.N; n++)
        {
            float* image = (float*)x.DataPointer + n * imageIn;
            float* yImage = (float*)output.DataPointer + n * imageOut;
            for (int oy0 = 0; oy0 < g.Ho; oy0 += band)
            {
                int rows = Math.Min(band, g.Ho - oy0), tp = rows * g.Wo;
                Im2Col(image, g, oy0, rows, (float*)col.DataPointer);
                using var b3 = View3(col, 1, k, tp, 0);
                using var c3 = whole ? View3(output, 1, g.Cout, p, n * imageOut) : View3(yBand!, 1, g.Cout, tp, 0);
                if (bias is not null) FillRows((float*)c3.DataPointer, tp, (float*)bias.DataPointer, g.Cout, tp);
                Gemm(w3, b3, c3, false, false, 1.0, beta);
                if (!whole) CopyBand((float*)yBand!.DataPointer, tp, yImage + (long)oy0 * g.Wo, p, g.Cout, tp);
            }
        }
    }

    /// <inheritdoc />
    public override void Conv2dBackwardInput(Tensor dOutput, Tensor weight, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dInput)
    {
        if (!AllContiguousFloat32(dOutput, weight, dInput))
        {
            base.Conv2dBackwardInput(dOutput, weight, stride, padTop, padBottom, padLeft, padRight, dInput);
            return;
        }
        var g = CheckConv2d(nameof(Conv2dBackwardInput), dInput.Shape, weight, dOutput, stride, padTop, padBottom, padLeft, padRight);
        if (dInput.Count == 0) return;
        int k = g.PatchSize, p = g.OutputPixels;
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        using var w3 = View3(weight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            // dx[n] (Cin, HW) = Wᵀ (Cin, Cout) · dy[n] (Cout, HW).
            for (int n = 0; n < g.N; n++)
            {
                using var gy = View3(dOutput, 1, g.Cout, p, n * imageOut);
                using var dx = View3(dInput, 1, g.Cin, p, n * imageIn);
                Gemm(w3, gy, dx, true, false, 1.0, 0.0);
            }
            return;
        }
        // dcol (K, P) = Wᵀ · dy[n], then col2im adds each column entry back onto the pixel it was read from.
        int band = BandRows(g);
        bool whole = band == g.Ho;
        using var col = Tensor.Empty([k * band * g.Wo]);
        using var gBand = whole ? null : Tensor.Empty([g.Cout * band * g.Wo]);
        for (int n = 0; n < g.N; n++)
        {
            float* dImage = (float*)dInput.DataPointer + n * imageIn;
            float* gImage = (float*)dOutput.DataPointer + n * imageOut;
            ClearFloats(dImage, imageIn);
            for (int oy0 = 0; oy0 < g.Ho; oy0 += band)
            {
                int rows = Math.Min(band, g.Ho - oy0), tp = rows * g.Wo;
                if (!whole) CopyBand(gImage + (long)oy0 * g.Wo, p, (float*)gBand!.DataPointer, tp, g.Cout, tp);
                using var gy = whole ? View3(dOutput, 1, g.Cout, p, n * imageOut) : View3(gBand!, 1, g.Cout, tp, 0);
                using var c3 = View3(col, 1, k, tp, 0);
                Gemm(w3, gy, c3, true, false, 1.0, 0.0);
                Col2ImAdd((float*)col.DataPointer, g, oy0, rows, dImage);
            }
        }
    }

    /// <inheritdoc />
    public override void Conv2dBackwardWeight(Tensor x, Tensor dOutput, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dWeight)
    {
        if (!AllContiguousFloat32(x, dOutput, dWeight))
        {
            base.Conv2dBackwardWeight(x, dOutput, stride, padTop, padBottom, padLeft, padRight, dWeight);
            return;
        }
        var g = CheckConv2d(nameof(Conv2dBackwardWeight), x.Shape, dWeight, dOutput, stride, padTop, padBottom, padLeft, padRight);
        if (dWeight.Count == 0) return;
        if (g.N == 0)
        {
            Fill(0, dWeight);
            return;
        }
        int k = g.PatchSize, p = g.OutputPixels;
        long imageIn = (long)g.Cin * g.H * g.W, imageOut = (long)g.Cout * p;
        using var dw3 = View3(dWeight, 1, g.Cout, k, 0);
        if (g.IsPointwise)
        {
            // dW (Cout, Cin) = Σ_n dy[n] (Cout, HW) · x[n] (Cin, HW)ᵀ.
            for (int n = 0; n < g.N; n++)
            {
                using var gy = View3(dOutput, 1, g.Cout, p, n * imageOut);
                using var x3 = View3(x, 1, g.Cin, p, n * imageIn);
                Gemm(gy, x3, dw3, false, true, 1.0, n == 0 ? 0.0 : 1.0);
            }
            return;
        }
        // dW (Cout, K) = Σ over images and bands of dy band (Cout, tp) · col band (K, tp)ᵀ.
        int band = BandRows(g);
        bool whole = band == g.Ho;
        using var col = Tensor.Empty([k * band * g.Wo]);
        using var gBand = whole ? null : Tensor.Empty([g.Cout * band * g.Wo]);
        bool first = true;
        for (int n = 0; n < g.N; n++)
        {
            float* image = (float*)x.DataPointer + n * imageIn;
            float* gImage = (float*)dOutput.DataPointer + n * imageOut;
            for (int oy0 = 0; oy0 < g.Ho; oy0 += band)
            {
                int rows = Math.Min(band, g.Ho - oy0), tp = rows * g.Wo;
                Im2Col(image, g, oy0, rows, (float*)col.DataPointer);
                if (!whole) CopyBand(gImage + (long)oy0 * g.Wo, p, (float*)gBand!.DataPointer, tp, g.Cout, tp);
                using var gy = whole ? View3(dOutput, 1, g.Cout, p, n * imageOut) : View3(gBand!, 1, g.Cout, tp, 0);
                using var b3 = View3(col, 1, k, tp, 0);
                Gemm(gy, b3, dw3, false, true, 1.0, first ? 0.0 : 1.0);
                first = false;
            }
        }
    }

    /// <summary>Fills a rows × cols block (row stride <paramref name="stride"/>) with values[r] in row r.</summary>
    private static void FillRows(float* dst, long stride, float* values, int rows, int cols)
    {
        nint pd = (nint)dst, pv = (nint)values;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / Math.Max(1, cols)), (s, e) =>
        {
            for (long r = s; r < e; r++) new Span<float>((float*)pd + r * stride, cols).Fill(((float*)pv)[r]);
        });
    }

    /// <summary>Copies a rows × cols block between row strides <paramref name="srcStride"/> and <paramref name="dstStride"/>.</summary>
    private static void CopyBand(float* src, long srcStride, float* dst, long dstStride, int rows, int cols)
    {
        nint ps = (nint)src, pd = (nint)dst;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / Math.Max(1, cols)), (s, e) =>
        {
            for (long r = s; r < e; r++)
                new ReadOnlySpan<float>((float*)ps + r * srcStride, cols).CopyTo(new Span<float>((float*)pd + r * dstStride, cols));
        });
    }

    /// <summary>Zeroes <paramref name="count"/> floats.</summary>
    private static void ClearFloats(float* dst, long count)
    {
        nint pd = (nint)dst;
        CpuParallel.For(count, 1 << 20, (s, e) => new Span<float>((float*)pd + s, (int)(e - s)).Clear());
    }

    /// <summary>
    /// Unfolds output rows [oy0, oy0 + rows) of one image (Cin, H, W) into col (Cin·Kh·Kw, rows·Wo):
    /// col[(ci·Kh + ky)·Kw + kx, (oy − oy0)·Wo + ox] = x[ci, oy·stride − padTop + ky, ox·stride − padLeft + kx], zero outside the image.
    /// </summary>
    private static void Im2Col(float* image, Conv2dGeometry g, int oy0, int rows, float* col)
    {
        nint pi = (nint)image, pc = (nint)col;
        int tp = rows * g.Wo;
        CpuParallel.For(g.PatchSize, Math.Max(1, ConvGrain / Math.Max(1, tp)), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                int kx = (int)(r % g.Kw), ky = (int)(r / g.Kw % g.Kh), ci = (int)(r / ((long)g.Kw * g.Kh));
                float* src = (float*)pi + (long)ci * g.H * g.W;
                float* dst = (float*)pc + r * tp;
                // Output columns whose input column lies inside the image: ox in [oxLo, oxHi).
                int oxLo = Math.Min(g.Wo, Math.Max(0, CeilDivide(g.PadLeft - kx, g.Stride)));
                int oxHi = Math.Max(oxLo, Math.Min(g.Wo, CeilDivide(g.W + g.PadLeft - kx, g.Stride)));
                for (int oy = oy0; oy < oy0 + rows; oy++)
                {
                    float* drow = dst + (long)(oy - oy0) * g.Wo;
                    int iy = oy * g.Stride - g.PadTop + ky;
                    if (iy < 0 || iy >= g.H)
                    {
                        new Span<float>(drow, g.Wo).Clear();
                        continue;
                    }
                    float* srow = src + (long)iy * g.W - g.PadLeft + kx;
                    new Span<float>(drow, oxLo).Clear();
                    if (g.Stride == 1)
                        new ReadOnlySpan<float>(srow + oxLo, oxHi - oxLo).CopyTo(new Span<float>(drow + oxLo, oxHi - oxLo));
                    else
                        for (int ox = oxLo; ox < oxHi; ox++) drow[ox] = srow[(long)ox * g.Stride];
                    new Span<float>(drow + oxHi, g.Wo - oxHi).Clear();
                }
            }
        });
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/> for output rows [oy0, oy0 + rows): adds every col entry onto the pixel of
    /// image (Cin, H, W) it was read from. Threaded over channels (a channel's col rows only touch its own plane).
    /// </summary>
    private static void Col2ImAdd(float* col, Conv2dGeometry g, int oy0, int rows, float* image)
    {
        nint pi = (nint)image, pc = (nint)col;
        int tp = rows * g.Wo;
        long perChannel = (long)g.Kh * g.Kw * tp;
        CpuParallel.For(g.Cin, Math.Max(1, ConvGrain / Math.Max(1, perChannel)), (s, e) =>
        {
            for (long ci = s; ci < e; ci++)
            {
                float* plane = (float*)pi + ci * g.H * g.W;
                for (int ky = 0; ky < g.Kh; ky++)
                    for (int kx = 0; kx < g.Kw; kx++)
                    {
                        float* src = (float*)pc + ((ci * g.Kh + ky) * g.Kw + kx) * tp;
                        int oxLo = Math.Min(g.Wo, Math.Max(0, CeilDivide(g.PadLeft - kx, g.Stride)));
                        int oxHi = Math.Max(oxLo, Math.Min(g.Wo, CeilDivide(g.W + g.PadLeft - kx, g.Stride)));
                        for (int oy = oy0; oy < oy0 + rows; oy++)
                        {
                            int iy = oy * g.Stride - g.PadTop + ky;
                            if (iy < 0 || iy >= g.H) continue;
                            float* drow = plane + (long)iy * g.W - g.PadLeft + kx;
                            float* srow = src + (long)(oy - oy0) * g.Wo;
                            if (g.Stride == 1)
                                AddFloatsInto(srow + oxLo, drow + oxLo, oxHi - oxLo);
                            else
                                for (int ox = oxLo; ox < oxHi; ox++) drow[(long)ox * g.Stride] += srow[ox];
                        }
                    }
            }
        });
    }

    /// <summary>dst[i] += src[i] for i in [0, count).</summary>
    private static void AddFloatsInto(float* src, float* dst, int count)
    {
        int i = 0;
        for (; i + Vector256<float>.Count <= count; i += Vector256<float>.Count)
            (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        for (; i < count; i++) dst[i] += src[i];
    }

    /// <summary>⌈a / b⌉ for b &gt; 0 and any sign of a.</summary>
    private static int CeilDivide(int a, int b) => a >= 0 ? (a + b - 1) / b : -(-a / b);

    /// <inheritdoc />
    public override void UpsampleNearest2x(Tensor x, Tensor output)
    {
        if (!AllContiguousFloat32(x, output))
        {
            base.UpsampleNearest2x(x, output);
            return;
        }
        CheckUpsample(nameof(UpsampleNearest2x), x, output);
        int w = x.Shape[3];
        long rows = (long)x.Shape[0] * x.Shape[1] * x.Shape[2];
        nint px = (nint)x.DataPointer, po = (nint)output.DataPointer;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / Math.Max(1, 4L * w)), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* src = (float*)px + r * w;
                float* dst = (float*)po + r * 4 * w; // input row r maps to output rows 2r and 2r+1 (2w wide each)
                for (int i = 0; i < w; i++) dst[2 * i] = dst[2 * i + 1] = src[i];
                new ReadOnlySpan<float>(dst, 2 * w).CopyTo(new Span<float>(dst + 2 * w, 2 * w));
            }
        });
    }

    /// <inheritdoc />
    public override void UpsampleNearest2xBackward(Tensor dOutput, Tensor dInput)
    {
        if (!AllContiguousFloat32(dOutput, dInput))
        {
            base.UpsampleNearest2xBackward(dOutput, dInput);
            return;
        }
        CheckUpsample(nameof(UpsampleNearest2xBackward), dInput, dOutput);
        int w = dInput.Shape[3];
        long rows = (long)dInput.Shape[0] * dInput.Shape[1] * dInput.Shape[2];
        nint pg = (nint)dOutput.DataPointer, pd = (nint)dInput.DataPointer;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / Math.Max(1, 4L * w)), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* top = (float*)pg + r * 4 * w, bottom = top + 2 * w, dst = (float*)pd + r * w;
                for (int i = 0; i < w; i++) dst[i] = (top[2 * i] + top[2 * i + 1]) + (bottom[2 * i] + bottom[2 * i + 1]);
            }
        });
    }

    /// <inheritdoc />
    public override void L2Normalize(Tensor x, double eps, Tensor output)
    {
        if (!AllContiguousFloat32(x, output))
        {
            base.L2Normalize(x, eps, output);
            return;
        }
        var (rows, d) = CheckL2Rows(nameof(L2Normalize), x, output, "output");
        nint px = (nint)x.DataPointer, po = (nint)output.DataPointer;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / d), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* row = (float*)px + r * d, dst = (float*)po + r * d;
                double ss = 0;
                for (int i = 0; i < d; i++) ss += (double)row[i] * row[i];
                double denom = Math.Max(Math.Sqrt(ss), eps);
                for (int i = 0; i < d; i++) dst[i] = (float)(row[i] / denom);
            }
        });
    }

    /// <inheritdoc />
    public override void L2NormalizeBackward(Tensor x, Tensor dOutput, double eps, Tensor dInput)
    {
        if (!AllContiguousFloat32(x, dOutput, dInput))
        {
            base.L2NormalizeBackward(x, dOutput, eps, dInput);
            return;
        }
        var (rows, d) = CheckL2Rows(nameof(L2NormalizeBackward), x, dOutput, "dOutput");
        CheckL2Rows(nameof(L2NormalizeBackward), x, dInput, "dInput");
        nint px = (nint)x.DataPointer, pg = (nint)dOutput.DataPointer, pd = (nint)dInput.DataPointer;
        CpuParallel.For(rows, Math.Max(1, ConvGrain / d), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* xr = (float*)px + r * d, gr = (float*)pg + r * d, dr = (float*)pd + r * d;
                double ss = 0;
                for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
                double norm = Math.Sqrt(ss);
                if (norm >= eps)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += xr[i] / norm * gr[i];
                    for (int i = 0; i < d; i++) dr[i] = (float)((gr[i] - xr[i] / norm * dot) / norm);
                }
                else
                {
                    for (int i = 0; i < d; i++) dr[i] = (float)(gr[i] / eps);
                }
            }
        });
    }

    /// <inheritdoc />
    /// <remarks>
    /// Bit-for-bit the reference arithmetic (float32, terms summed in increasing d, multiply then add, no FMA), only
    /// eight codebook rows at a time from a transposed copy of the codebook, so the chosen indices are identical.
    /// </remarks>
    public override void NearestCode(Tensor z, Tensor codebook, Tensor output)
    {
        if (!AllContiguousFloat32(z, codebook) || !Vector256.IsHardwareAccelerated)
        {
            base.NearestCode(z, codebook, output);
            return;
        }
        var (m, k, d) = CheckNearestCode(z, codebook, output);
        float* pe = (float*)codebook.DataPointer;
        // Codebook transposed to (D, K8) with K8 = K rounded up to 8, and squared row norms ee (K8); the padding is never chosen.
        int k8 = (k + 7) & ~7;
        var et = new float[(long)d * k8];
        var ee = new float[k8];
        for (int j = 0; j < k; j++)
        {
            float s = 0;
            for (int c = 0; c < d; c++)
            {
                float v = pe[(long)j * d + c];
                s += v * v;
                et[(long)c * k8 + j] = v;
            }
            ee[j] = s;
        }
        nint pz = (nint)z.DataPointer, po = (nint)output.DataPointer;
        CpuParallel.For(m, Math.Max(1, ConvGrain / Math.Max(1L, (long)k * d)), (s, e) =>
        {
            fixed (float* pet = et, pee = ee)
                for (long i = s; i < e; i++)
                    ((long*)po)[i] = NearestRow((float*)pz + i * d, pet, pee, k, k8, d);
        });
    }

    private static long NearestRow(float* zi, float* et, float* ee, int k, int k8, int d)
    {
        float zz = 0;
        for (int c = 0; c < d; c++) zz += zi[c] * zi[c];
        var zzv = Vector256.Create(zz);
        var two = Vector256.Create(2f);
        var best = Vector256.Create(float.PositiveInfinity);
        var bestIndex = Vector256<int>.Zero;
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var step = Vector256.Create(8);
        int full = k & ~7;
        for (int j = 0; j < full; j += 8)
        {
            var dot = Vector256<float>.Zero;
            for (int c = 0; c < d; c++)
                dot += Vector256.Create(zi[c]) * Vector256.Load(et + (long)c * k8 + j);
            var dist = (zzv + Vector256.Load(ee + j)) - two * dot;
            var less = Vector256.LessThan(dist, best);
            best = Vector256.ConditionalSelect(less, dist, best);
            bestIndex = Vector256.ConditionalSelect(less.AsInt32(), index, bestIndex);
            index += step;
        }
        // Lanes hold the first minimum of their own columns; the overall first minimum is the lane minimum by (value, index).
        float bestValue = float.PositiveInfinity;
        long result = 0;
        bool found = false;
        for (int l = 0; l < 8; l++)
        {
            float v = best.GetElement(l);
            int at = bestIndex.GetElement(l);
            if (v < bestValue || (found && v == bestValue && at < result))
            {
                bestValue = v;
                result = at;
                found = true;
            }
        }
        for (int j = full; j < k; j++)
        {
            float dot = 0;
            for (int c = 0; c < d; c++) dot += zi[c] * et[(long)c * k8 + j];
            float dist = (zz + ee[j]) - 2f * dot;
            if (dist < bestValue)
            {
                bestValue = dist;
                result = j;
            }
        }
        return result;
    }
}

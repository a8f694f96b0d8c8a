using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Float32 SIMD + threaded RmsNorm, AddRmsNorm, GatedRmsNorm, LayerNorm, GroupNorm and their
// backwards, and the no-grad ModulatedAddRmsNorm (rounded step by step like the CPU composition it replaces:
// RmsRows, then the Mul and Add kernels); other dtypes go to the reference. Same formulas as ReferenceKernels.Norm.cs. Rows are split
// across threads; weight/bias gradients are column sums in row order (NormSimd.ColumnSums) or per-channel
// sums over samples in sample order, so results do not depend on the thread count.
public unsafe partial class CpuKernels
{
    /// <inheritdoc />
    public override void RmsNorm(Tensor x, Tensor weight, double eps, Tensor output)
    {
        if (x.DType != DType.Float32) { base.RmsNorm(x, weight, eps, output); return; }
        int d = NormChecks.Rows(nameof(RmsNorm), x, [output], [weight]);
        RmsRows(x, null, weight, eps, d, output, null);
    }

    /// <inheritdoc />
    public override void AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps, Tensor normed, Tensor residualOut)
    {
        if (hidden.DType != DType.Float32) { base.AddRmsNorm(hidden, residual, weight, eps, normed, residualOut); return; }
        int d = NormChecks.Rows(nameof(AddRmsNorm), hidden, [residual, normed, residualOut], [weight]);
        RmsRows(hidden, residual, weight, eps, d, normed, residualOut);
    }

    // One pass per row: r = x (+ residual) stored to residualOut when given, then output = r·rstd·w.
    private static void RmsRows(Tensor x, Tensor? residual, Tensor weight, double eps, int d, Tensor output, Tensor? residualOut)
    {
        if (d == 0) return;
        nint px = x.DataPointer, pres = residual?.DataPointer ?? 0, pw = weight.DataPointer, po = output.DataPointer;
        nint pro = residualOut?.DataPointer ?? 0;
        CpuParallel.For(x.Count / d, NormSimd.RowGrain(d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* src = (float*)px + r * d;
                if (pro != 0)
                {
                    float* sum = (float*)pro + r * d;
                    if (pres != 0) NormSimd.Add(src, (float*)pres + r * d, sum, d);
                    else new ReadOnlySpan<float>(src, d).CopyTo(new Span<float>(sum, d));
                    src = sum;
                }
                float rstd = (float)(1.0 / Math.Sqrt(NormSimd.SumSquares(src, d, 0) / d + eps));
                NormSimd.ScaleMul(src, (float*)pw, rstd, (float*)po + r * d, d);
            }
        });
    }

    /// <inheritdoc />
    public override void ModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor scalePlusOne, Tensor shift,
        Tensor normed, Tensor residualOut)
    {
        if (hidden.DType != DType.Float32)
        {
            base.ModulatedAddRmsNorm(hidden, gate, residual, weight, eps, scalePlusOne, shift, normed, residualOut);
            return;
        }
        int d = NormChecks.Modulated(nameof(ModulatedAddRmsNorm), hidden, gate, residual, weight, scalePlusOne, shift, normed, residualOut);
        if (d == 0) return;
        nint px = hidden.DataPointer, pg = gate?.DataPointer ?? 0, pres = residual?.DataPointer ?? 0, pw = weight.DataPointer;
        nint ps = scalePlusOne.DataPointer, pt = shift.DataPointer, po = normed.DataPointer, pro = residualOut.DataPointer;
        CpuParallel.For(hidden.Count / d, NormSimd.RowGrain(d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long at = r * d;
                float* sum = (float*)pro + at;
                // r = residual + gate·hidden, as RmsRows stores it (in place: each element read before it is written).
                NormSimd.GateAdd((float*)px + at, pg == 0 ? null : (float*)pg + at, pres == 0 ? null : (float*)pres + at, sum, d);
                float rstd = (float)(1.0 / Math.Sqrt(NormSimd.SumSquares(sum, d, 0) / d + eps));
                NormSimd.ScaleMulModulate(sum, (float*)pw, rstd, (float*)ps + at, (float*)pt + at, (float*)po + at, d);
            }
        });
    }

    /// <inheritdoc />
    public override void RmsNormBackward(Tensor x, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight)
    {
        if (x.DType != DType.Float32) { base.RmsNormBackward(x, weight, dOutput, eps, dX, dWeight); return; }
        int d = NormChecks.Rows(nameof(RmsNormBackward), x, [dOutput, dX], [weight, dWeight]);
        RmsBackwardRows(x, weight, dOutput, null, eps, d, dX, dWeight);
    }

    /// <inheritdoc />
    public override void AddRmsNormBackward(Tensor residualOut, Tensor weight, Tensor dNormed, Tensor? dResidualOut, double eps, Tensor dSum, Tensor dWeight)
    {
        if (residualOut.DType != DType.Float32) { base.AddRmsNormBackward(residualOut, weight, dNormed, dResidualOut, eps, dSum, dWeight); return; }
        int d = NormChecks.Rows(nameof(AddRmsNormBackward), residualOut, [dNormed, dResidualOut, dSum], [weight, dWeight]);
        RmsBackwardRows(residualOut, weight, dNormed, dResidualOut, eps, d, dSum, dWeight);
    }

    // dx = rstd·dy·w - x·rstd²·mean(dy·w·x̂) (+ extra); dw = Σ_rows dy·x·rstd.
    private static void RmsBackwardRows(Tensor x, Tensor weight, Tensor dOutput, Tensor? extra, double eps, int d, Tensor dX, Tensor dWeight)
    {
        long rows = d == 0 ? 0 : x.Count / d;
        var rstds = new float[rows];
        nint px = x.DataPointer, pw = weight.DataPointer, pg = dOutput.DataPointer, pe = extra?.DataPointer ?? 0, pd = dX.DataPointer;
        fixed (float* prstd = rstds)
        {
            nint ps = (nint)prstd;
            CpuParallel.For(rows, NormSimd.RowGrain(d), (r0, r1) =>
            {
                float* w = (float*)pw;
                for (long r = r0; r < r1; r++)
                {
                    float* xr = (float*)px + r * d, gr = (float*)pg + r * d, dr = (float*)pd + r * d;
                    float* er = pe == 0 ? null : (float*)pe + r * d;
                    double rstd = 1.0 / Math.Sqrt(NormSimd.SumSquares(xr, d, 0) / d + eps);
                    double mean = NormSimd.Dot3(gr, w, xr, d) * rstd / d;
                    float a = (float)rstd, b = (float)(-rstd * rstd * mean);
                    ((float*)ps)[r] = a;
                    var va = Vector256.Create(a);
                    var vb = Vector256.Create(b);
                    int j = 0;
                    for (; j + 8 <= d; j += 8)
                    {
                        var v = Vector256.FusedMultiplyAdd(Vector256.Load(gr + j) * Vector256.Load(w + j), va, Vector256.Load(xr + j) * vb);
                        if (er != null) v += Vector256.Load(er + j);
                        v.Store(dr + j);
                    }
                    for (; j < d; j++) dr[j] = gr[j] * w[j] * a + xr[j] * b + (er == null ? 0 : er[j]);
                }
            });
            NormSimd.ColumnSums((float*)pg, (float*)px, prstd, null, rows, d, (float*)dWeight.DataPointer);
        }
    }

    /// <inheritdoc />
    public override void GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize, Tensor output)
    {
        if (x.DType != DType.Float32) { base.GatedRmsNorm(x, z, weight, eps, groupSize, output); return; }
        var (d, sx, sz) = NormChecks.GatedRows(nameof(GatedRmsNorm), x, z, groupSize, [output], [weight]);
        if (d == 0) return;
        nint px = x.DataPointer, pz = z.DataPointer, pw = weight.DataPointer, po = output.DataPointer;
        CpuParallel.For(x.Count / d, NormSimd.RowGrain(d), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* yr = (float*)po + r * d;
                Gate((float*)px + r * sx, (float*)pz + r * sz, yr, d);
                for (int start = 0; start < d; start += groupSize)
                {
                    float* seg = yr + start;
                    float rstd = (float)(1.0 / Math.Sqrt(NormSimd.SumSquares(seg, groupSize, 0) / groupSize + eps));
                    NormSimd.ScaleMul(seg, (float*)pw + start, rstd, seg, groupSize);
                }
            }
        });
    }

    // g = x·silu(z) = x·z / (1 + e^-z).
    private static void Gate(float* x, float* z, float* g, int n)
    {
        int j = 0;
        var one = Vector256.Create(1f);
        for (; j + 8 <= n; j += 8)
        {
            var vz = Vector256.Load(z + j);
            (Vector256.Load(x + j) * vz / (one + Vector256.Exp(-vz))).Store(g + j);
        }
        for (; j < n; j++) g[j] = x[j] * z[j] / (1 + MathF.Exp(-z[j]));
    }

    /// <inheritdoc />
    public override void GatedRmsNormBackward(Tensor x, Tensor z, Tensor weight, Tensor dOutput, double eps, int groupSize, Tensor dX, Tensor dZ, Tensor dWeight)
    {
        if (x.DType != DType.Float32) { base.GatedRmsNormBackward(x, z, weight, dOutput, eps, groupSize, dX, dZ, dWeight); return; }
        var (d, sx, sz) = NormChecks.GatedRows(nameof(GatedRmsNormBackward), x, z, groupSize, [dOutput, dX], [weight, dWeight]);
        long sdz = NormChecks.OutputRows(nameof(GatedRmsNormBackward), "dZ", dZ, x);
        long rows = d == 0 ? 0 : x.Count / d;
        // x̂ = g·rstd for every element, kept for the weight gradient's column sums.
        float* xhat = (float*)NativeMemory.Alloc((nuint)Math.Max(1, x.Count), sizeof(float));
        try
        {
            nint px = x.DataPointer, pz = z.DataPointer, pw = weight.DataPointer, pg = dOutput.DataPointer;
            nint pdx = dX.DataPointer, pdz = dZ.DataPointer, ph = (nint)xhat;
            CpuParallel.For(rows, NormSimd.RowGrain(d), (r0, r1) =>
            {
                float* w = (float*)pw;
                var dg = new float[d];
                fixed (float* pdg = dg)
                {
                    for (long r = r0; r < r1; r++)
                    {
                        long at = r * d;
                        float* xr = (float*)px + r * sx, zr = (float*)pz + r * sz, gy = (float*)pg + at, hr = (float*)ph + at;
                        Gate(xr, zr, hr, d);
                        for (int start = 0; start < d; start += groupSize)
                        {
                            float* g = hr + start;
                            double rstd = 1.0 / Math.Sqrt(NormSimd.SumSquares(g, groupSize, 0) / groupSize + eps);
                            double mean = NormSimd.Dot3(gy + start, w + start, g, groupSize) * rstd / groupSize;
                            float a = (float)rstd, b = (float)(-rstd * rstd * mean);
                            for (int j = start; j < start + groupSize; j++)
                            {
                                pdg[j] = gy[j] * w[j] * a + hr[j] * b;
                                hr[j] *= a;
                            }
                        }
                        GateBackward(xr, zr, pdg, (float*)pdx + at, (float*)pdz + r * sdz, d);
                    }
                }
            });
            NormSimd.ColumnSums((float*)pg, xhat, null, null, rows, d, (float*)dWeight.DataPointer);
        }
        finally
        {
            NativeMemory.Free(xhat);
        }
    }

    // dx = dg·z·s, dz = dg·x·s·(1 + z·(1 - s)) with s = sigmoid(z).
    private static void GateBackward(float* x, float* z, float* dg, float* dx, float* dz, int n)
    {
        int j = 0;
        var one = Vector256.Create(1f);
        for (; j + 8 <= n; j += 8)
        {
            var vz = Vector256.Load(z + j);
            var s = one / (one + Vector256.Exp(-vz));
            var vdg = Vector256.Load(dg + j);
            (vdg * vz * s).Store(dx + j);
            (vdg * Vector256.Load(x + j) * s * (one + vz * (one - s))).Store(dz + j);
        }
        for (; j < n; j++)
        {
            float s = 1 / (1 + MathF.Exp(-z[j]));
            dx[j] = dg[j] * z[j] * s;
            dz[j] = dg[j] * x[j] * s * (1 + z[j] * (1 - s));
        }
    }

    /// <inheritdoc />
    public override void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor output)
    {
        if (x.DType != DType.Float32) { base.LayerNorm(x, weight, bias, eps, output); return; }
        int d = NormChecks.Rows(nameof(LayerNorm), x, [output], [weight, bias]);
        if (d == 0) return;
        nint px = x.DataPointer, pw = weight?.DataPointer ?? 0, pb = bias?.DataPointer ?? 0, po = output.DataPointer;
        CpuParallel.For(x.Count / d, NormSimd.RowGrain(d), (r0, r1) =>
        {
            float* w = (float*)pw, b = (float*)pb;
            for (long r = r0; r < r1; r++)
            {
                float* xr = (float*)px + r * d, yr = (float*)po + r * d;
                var (mean, rstd) = MeanRstd(xr, d, eps);
                // y = (x - mean)·rstd·w + b
                float a = (float)rstd, m = (float)mean;
                int j = 0;
                var va = Vector256.Create(a);
                var vm = Vector256.Create(m);
                for (; j + 8 <= d; j += 8)
                {
                    var v = (Vector256.Load(xr + j) - vm) * va;
                    if (w != null) v *= Vector256.Load(w + j);
                    if (b != null) v += Vector256.Load(b + j);
                    v.Store(yr + j);
                }
                for (; j < d; j++) yr[j] = (xr[j] - m) * a * (w == null ? 1 : w[j]) + (b == null ? 0 : b[j]);
            }
        });
    }

    // Mean and 1/sqrt(biased variance + eps), two passes with double block sums.
    private static (double Mean, double Rstd) MeanRstd(float* x, long n, double eps)
    {
        double mean = NormSimd.Sum(x, n) / n;
        double variance = NormSimd.SumSquares(x, n, (float)mean) / n;
        return (mean, 1.0 / Math.Sqrt(variance + eps));
    }

    /// <inheritdoc />
    public override void LayerNormBackward(Tensor x, Tensor? weight, Tensor dOutput, double eps, Tensor dX, Tensor? dWeight, Tensor? dBias)
    {
        if (x.DType != DType.Float32) { base.LayerNormBackward(x, weight, dOutput, eps, dX, dWeight, dBias); return; }
        int d = NormChecks.Rows(nameof(LayerNormBackward), x, [dOutput, dX], [weight, dWeight, dBias]);
        long rows = d == 0 ? 0 : x.Count / d;
        var ones = new float[weight is null ? d : 0];
        Array.Fill(ones, 1f);
        var scale = new float[rows];
        var shift = new float[rows];
        fixed (float* pones = ones, pscale = scale, pshift = shift)
        {
            nint px = x.DataPointer, pw = weight?.DataPointer ?? (nint)pones, pg = dOutput.DataPointer, pd = dX.DataPointer;
            nint ps = (nint)pscale, pt = (nint)pshift;
            CpuParallel.For(rows, NormSimd.RowGrain(d), (r0, r1) =>
            {
                float* w = (float*)pw;
                for (long r = r0; r < r1; r++)
                {
                    float* xr = (float*)px + r * d, gr = (float*)pg + r * d, dr = (float*)pd + r * d;
                    var (mean, rstd) = MeanRstd(xr, d, eps);
                    double m1 = NormSimd.Dot(gr, w, d) / d; // mean(dx̂)
                    double m2 = rstd * NormSimd.Dot3(gr, w, xr, d, (float)mean) / d; // mean(dx̂·x̂)
                    // dx = rstd·(dy·w - m1 - (x - mean)·rstd·m2) = (dy·w - m1)·A + (x - mean)·B
                    float a = (float)rstd, b = (float)(-rstd * rstd * m2), c = (float)m1, mf = (float)mean;
                    ((float*)ps)[r] = (float)rstd;
                    ((float*)pt)[r] = mf;
                    var va = Vector256.Create(a);
                    var vb = Vector256.Create(b);
                    var vc = Vector256.Create(c);
                    var vm = Vector256.Create(mf);
                    int j = 0;
                    for (; j + 8 <= d; j += 8)
                        Vector256.FusedMultiplyAdd(Vector256.Load(gr + j) * Vector256.Load(w + j) - vc, va, (Vector256.Load(xr + j) - vm) * vb).Store(dr + j);
                    for (; j < d; j++) dr[j] = (gr[j] * w[j] - c) * a + (xr[j] - mf) * b;
                }
            });
            if (dWeight is not null) NormSimd.ColumnSums((float*)pg, (float*)px, pscale, pshift, rows, d, (float*)dWeight.DataPointer);
            if (dBias is not null) NormSimd.ColumnSums((float*)pg, null, null, null, rows, d, (float*)dBias.DataPointer);
        }
    }

    /// <inheritdoc />
    public override void GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor output)
    {
        if (x.DType != DType.Float32) { base.GroupNorm(x, groups, weight, bias, eps, output); return; }
        var (n, c, s) = NormChecks.Groups(nameof(GroupNorm), x, groups, [output], [weight, bias]);
        int cg = c / groups;
        long m = cg * s;
        if (m == 0) return;
        nint px = x.DataPointer, pw = weight.DataPointer, pb = bias.DataPointer, po = output.DataPointer;
        CpuParallel.For((long)n * groups, NormSimd.RowGrain(m), (i0, i1) =>
        {
            for (long i = i0; i < i1; i++)
            {
                long at = i * m; // (sample, group) blocks are contiguous: channels g·cg .. g·cg+cg-1, all positions
                int g = (int)(i % groups);
                var (mean, rstd) = MeanRstd((float*)px + at, m, eps);
                for (int k = 0; k < cg; k++)
                {
                    int ch = g * cg + k;
                    NormSimd.CenterAffine((float*)px + at + k * s, (float)mean, (float)(rstd * ((float*)pw)[ch]), ((float*)pb)[ch], (float*)po + at + k * s, s);
                }
            }
        });
    }

    /// <inheritdoc />
    public override void GroupNormBackward(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight, Tensor dBias)
    {
        if (x.DType != DType.Float32) { base.GroupNormBackward(x, groups, weight, dOutput, eps, dX, dWeight, dBias); return; }
        var (n, c, s) = NormChecks.Groups(nameof(GroupNormBackward), x, groups, [dOutput, dX], [weight, dWeight, dBias]);
        int cg = c / groups;
        long m = cg * s;
        // Per (sample, channel): Σ_s dy and Σ_s dy·(x - mean); per (sample, group): rstd.
        var sumDy = new double[(long)n * c];
        var sumDyX = new double[(long)n * c];
        var rstds = new double[(long)n * groups];
        if (m > 0)
        {
            nint px = x.DataPointer, pw = weight.DataPointer, pg = dOutput.DataPointer, pd = dX.DataPointer;
            CpuParallel.For((long)n * groups, NormSimd.RowGrain(m), (i0, i1) =>
            {
                float* w = (float*)pw;
                for (long i = i0; i < i1; i++)
                {
                    long at = i * m, ni = i / groups;
                    int g = (int)(i % groups);
                    var (mean, rstd) = MeanRstd((float*)px + at, m, eps);
                    rstds[i] = rstd;
                    double m1 = 0, m2 = 0;
                    for (int k = 0; k < cg; k++)
                    {
                        int ch = g * cg + k;
                        float* xs = (float*)px + at + k * s, gs = (float*)pg + at + k * s;
                        double sd = NormSimd.Sum(gs, s), sdx = NormSimd.DotCentered(gs, xs, (float)mean, s);
                        sumDy[ni * c + ch] = sd;
                        sumDyX[ni * c + ch] = sdx;
                        m1 += w[ch] * sd;
                        m2 += w[ch] * rstd * sdx;
                    }
                    m1 /= m;
                    m2 /= m;
                    // dx = rstd·(dy·w - m1 - (x - mean)·rstd·m2) = (dy·w_c - m1)·rstd + (x - mean)·B
                    float b = (float)(-rstd * rstd * m2), cc = (float)m1, mf = (float)mean, rs = (float)rstd;
                    for (int k = 0; k < cg; k++)
                    {
                        int ch = g * cg + k;
                        float* xs = (float*)px + at + k * s, gs = (float*)pg + at + k * s, ds = (float*)pd + at + k * s;
                        float wc = w[ch];
                        var vw = Vector256.Create(wc);
                        var vr = Vector256.Create(rs);
                        var vb = Vector256.Create(b);
                        var vc = Vector256.Create(cc);
                        var vm = Vector256.Create(mf);
                        long j = 0;
                        for (; j + 8 <= s; j += 8)
                            Vector256.FusedMultiplyAdd(Vector256.Load(gs + j) * vw - vc, vr, (Vector256.Load(xs + j) - vm) * vb).Store(ds + j);
                        for (; j < s; j++) ds[j] = (gs[j] * wc - cc) * rs + (xs[j] - mf) * b;
                    }
                }
            });
        }
        float* dw = (float*)dWeight.DataPointer, db = (float*)dBias.DataPointer;
        for (int ch = 0; ch < c; ch++)
        {
            int g = ch / cg;
            double sw = 0, sb = 0;
            for (int ni = 0; ni < n; ni++)
            {
                long k = (long)ni * c + ch, gi = (long)ni * groups + g;
                sb += sumDy[k];
                sw += rstds[gi] * sumDyX[k];
            }
            dw[ch] = (float)sw;
            db[ch] = (float)sb;
        }
    }
}

using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: RmsNorm, AddRmsNorm, GatedRmsNorm, LayerNorm, GroupNorm and their backwards, and the no-grad
// ModulatedAddRmsNorm (reference versions).
// Every row is loaded into double, normalised in double and rounded once to the tensor's dtype (the modulated
// form then rounds ·scalePlusOne and +shift in the dtype, as the elementwise ops it replaces do); weight
// gradients are summed in double in row order. Formulas (derived from y = x̂·w with x̂ = x·rstd):
//   RMSNorm:   rstd = 1/sqrt(mean(x²)+eps);  dx = rstd·(dx̂ - x̂·mean(dx̂·x̂)),  dx̂ = dy·w
//   LayerNorm: x̂ = (x-mean)·rstd, rstd = 1/sqrt(var+eps); dx = rstd·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂))
//   dw = Σ dy·x̂, db = Σ dy. Gated RMSNorm: g = x·silu(z) normalised per group; dx = dg·silu(z),
//   dz = dg·x·silu'(z) with silu'(z) = s(1 + z(1 - s)), s = sigmoid(z).
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void RmsNorm(Tensor x, Tensor weight, double eps, Tensor output)
    {
        int d = NormChecks.Rows(nameof(RmsNorm), x, [output], [weight]);
        if (IsDouble(nameof(RmsNorm), x.DType)) RmsNormT<double>(x, null, weight, eps, d, output, null);
        else RmsNormT<float>(x, null, weight, eps, d, output, null);
    }

    /// <inheritdoc />
    public virtual void AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps, Tensor normed, Tensor residualOut)
    {
        int d = NormChecks.Rows(nameof(AddRmsNorm), hidden, [residual, normed, residualOut], [weight]);
        if (IsDouble(nameof(AddRmsNorm), hidden.DType)) RmsNormT<double>(hidden, residual, weight, eps, d, normed, residualOut);
        else RmsNormT<float>(hidden, residual, weight, eps, d, normed, residualOut);
    }

    // r = x (+ residual, added in T as an elementwise Add would), stored to residualOut when given; output = RmsNorm(r)·w.
    private static void RmsNormT<T>(Tensor x, Tensor? residual, Tensor weight, double eps, int d, Tensor output, Tensor? residualOut)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (d == 0) return;
        T* px = (T*)x.DataPointer, pw = (T*)weight.DataPointer, po = (T*)output.DataPointer;
        T* pres = residual is null ? null : (T*)residual.DataPointer;
        T* pro = residualOut is null ? null : (T*)residualOut.DataPointer;
        long rows = x.Count / d;
        var r = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++)
            {
                T v = pres is null ? px[at + j] : px[at + j] + pres[at + j];
                if (pro is not null) pro[at + j] = v;
                r[j] = double.CreateTruncating(v);
            }
            double rstd = RmsRstd(r, 0, d, eps);
            for (int j = 0; j < d; j++)
                po[at + j] = T.CreateTruncating(r[j] * rstd * double.CreateTruncating(pw[j]));
        }
    }

    /// <inheritdoc />
    public virtual void ModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor scalePlusOne, Tensor shift,
        Tensor normed, Tensor residualOut)
    {
        int d = NormChecks.Modulated(nameof(ModulatedAddRmsNorm), hidden, gate, residual, weight, scalePlusOne, shift, normed, residualOut);
        if (IsDouble(nameof(ModulatedAddRmsNorm), hidden.DType))
            ModulatedRmsNormT<double>(hidden, gate, residual, weight, eps, scalePlusOne, shift, d, normed, residualOut);
        else ModulatedRmsNormT<float>(hidden, gate, residual, weight, eps, scalePlusOne, shift, d, normed, residualOut);
    }

    // The composition's reference kernels step by step: p = gate·h (Binary Mul, in T), r = p + residual (AddRmsNorm's
    // add, in T) stored to residualOut; n = r·rstd·w in double rounded once to T (RmsNormT); then n·s and + shift in T
    // (Binary Mul, Add). Each element of the inputs is read before residualOut's element is written (in place is safe).
    private static void ModulatedRmsNormT<T>(Tensor x, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor scalePlusOne, Tensor shift,
        int d, Tensor output, Tensor residualOut)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (d == 0) return;
        T* px = (T*)x.DataPointer, pw = (T*)weight.DataPointer, po = (T*)output.DataPointer, pro = (T*)residualOut.DataPointer;
        T* pg = gate is null ? null : (T*)gate.DataPointer;
        T* pres = residual is null ? null : (T*)residual.DataPointer;
        T* ps = (T*)scalePlusOne.DataPointer, pb = (T*)shift.DataPointer;
        long rows = x.Count / d;
        var r = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++)
            {
                T v = pg is null ? px[at + j] : pg[at + j] * px[at + j];
                if (pres is not null) v += pres[at + j];
                pro[at + j] = v;
                r[j] = double.CreateTruncating(v);
            }
            double rstd = RmsRstd(r, 0, d, eps);
            for (int j = 0; j < d; j++)
            {
                T n = T.CreateTruncating(r[j] * rstd * double.CreateTruncating(pw[j]));
                po[at + j] = n * ps[at + j] + pb[at + j];
            }
        }
    }

    private static double RmsRstd(double[] v, int start, int n, double eps)
    {
        double ss = 0;
        for (int j = start; j < start + n; j++) ss += v[j] * v[j];
        return 1.0 / Math.Sqrt(ss / n + eps);
    }

    // RMSNorm backward of one row segment [start, start+n) in double; adds into dw, writes dx.
    private static void RmsSegmentBackward(double[] x, double[] w, double[] dy, int start, int n, double eps, double[] dw, double[] dx)
    {
        double rstd = RmsRstd(x, start, n, eps);
        double dot = 0;
        for (int j = start; j < start + n; j++) dot += dy[j] * w[j] * x[j] * rstd;
        double mean = dot / n;
        for (int j = start; j < start + n; j++)
        {
            double xh = x[j] * rstd;
            dx[j] = rstd * (dy[j] * w[j] - xh * mean);
            dw[j] += dy[j] * xh;
        }
    }

    /// <inheritdoc />
    public virtual void RmsNormBackward(Tensor x, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight)
    {
        int d = NormChecks.Rows(nameof(RmsNormBackward), x, [dOutput, dX], [weight, dWeight]);
        if (IsDouble(nameof(RmsNormBackward), x.DType)) RmsNormBackwardT<double>(x, weight, dOutput, null, eps, d, dX, dWeight);
        else RmsNormBackwardT<float>(x, weight, dOutput, null, eps, d, dX, dWeight);
    }

    /// <inheritdoc />
    public virtual void AddRmsNormBackward(Tensor residualOut, Tensor weight, Tensor dNormed, Tensor? dResidualOut, double eps, Tensor dSum, Tensor dWeight)
    {
        int d = NormChecks.Rows(nameof(AddRmsNormBackward), residualOut, [dNormed, dResidualOut, dSum], [weight, dWeight]);
        if (IsDouble(nameof(AddRmsNormBackward), residualOut.DType)) RmsNormBackwardT<double>(residualOut, weight, dNormed, dResidualOut, eps, d, dSum, dWeight);
        else RmsNormBackwardT<float>(residualOut, weight, dNormed, dResidualOut, eps, d, dSum, dWeight);
    }

    private static void RmsNormBackwardT<T>(Tensor x, Tensor weight, Tensor dOutput, Tensor? dExtra, double eps, int d, Tensor dX, Tensor dWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pdx = (T*)dX.DataPointer;
        T* pe = dExtra is null ? null : (T*)dExtra.DataPointer;
        long rows = d == 0 ? 0 : x.Count / d;
        double[] w = LoadDouble<T>(weight), dw = new double[d], xr = new double[d], gr = new double[d], dxr = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++)
            {
                xr[j] = double.CreateTruncating(px[at + j]);
                gr[j] = double.CreateTruncating(pg[at + j]);
            }
            RmsSegmentBackward(xr, w, gr, 0, d, eps, dw, dxr);
            for (int j = 0; j < d; j++)
                pdx[at + j] = T.CreateTruncating(dxr[j] + (pe is null ? 0 : double.CreateTruncating(pe[at + j])));
        }
        StoreDouble<T>(dw, dWeight);
    }

    /// <inheritdoc />
    public virtual void GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize, Tensor output)
    {
        var (d, sx, sz) = NormChecks.GatedRows(nameof(GatedRmsNorm), x, z, groupSize, [output], [weight]);
        if (IsDouble(nameof(GatedRmsNorm), x.DType)) GatedRmsNormT<double>(x, sx, z, sz, weight, eps, d, groupSize, output);
        else GatedRmsNormT<float>(x, sx, z, sz, weight, eps, d, groupSize, output);
    }

    // x and z rows start sx and sz elements apart (row views); output is contiguous.
    private static void GatedRmsNormT<T>(Tensor x, long sx, Tensor z, long sz, Tensor weight, double eps, int d, int groupSize, Tensor output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (d == 0) return;
        T* px = (T*)x.DataPointer, pz = (T*)z.DataPointer, po = (T*)output.DataPointer;
        long rows = x.Count / d;
        double[] w = LoadDouble<T>(weight), g = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++)
            {
                double zv = double.CreateTruncating(pz[row * sz + j]);
                g[j] = double.CreateTruncating(px[row * sx + j]) * zv / (1 + Math.Exp(-zv));
            }
            for (int start = 0; start < d; start += groupSize)
            {
                double rstd = RmsRstd(g, start, groupSize, eps);
                for (int j = start; j < start + groupSize; j++) po[at + j] = T.CreateTruncating(g[j] * rstd * w[j]);
            }
        }
    }

    /// <inheritdoc />
    public virtual void GatedRmsNormBackward(Tensor x, Tensor z, Tensor weight, Tensor dOutput, double eps, int groupSize, Tensor dX, Tensor dZ, Tensor dWeight)
    {
        var (d, sx, sz) = NormChecks.GatedRows(nameof(GatedRmsNormBackward), x, z, groupSize, [dOutput, dX], [weight, dWeight]);
        long sdz = NormChecks.OutputRows(nameof(GatedRmsNormBackward), "dZ", dZ, x);
        if (IsDouble(nameof(GatedRmsNormBackward), x.DType)) GatedRmsNormBackwardT<double>(x, sx, z, sz, weight, dOutput, eps, d, groupSize, dX, dZ, sdz, dWeight);
        else GatedRmsNormBackwardT<float>(x, sx, z, sz, weight, dOutput, eps, d, groupSize, dX, dZ, sdz, dWeight);
    }

    // x, z and dZ rows start sx, sz and sdz elements apart (row views); dOutput and dX are contiguous.
    private static void GatedRmsNormBackwardT<T>(Tensor x, long sx, Tensor z, long sz, Tensor weight, Tensor dOutput, double eps, int d, int groupSize,
        Tensor dX, Tensor dZ, long sdz, Tensor dWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pz = (T*)z.DataPointer, pg = (T*)dOutput.DataPointer;
        T* pdx = (T*)dX.DataPointer, pdz = (T*)dZ.DataPointer;
        long rows = d == 0 ? 0 : x.Count / d;
        double[] w = LoadDouble<T>(weight), dw = new double[d], g = new double[d], dy = new double[d], dg = new double[d];
        double[] xr = new double[d], zr = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++)
            {
                xr[j] = double.CreateTruncating(px[row * sx + j]);
                zr[j] = double.CreateTruncating(pz[row * sz + j]);
                dy[j] = double.CreateTruncating(pg[at + j]);
                g[j] = xr[j] * zr[j] / (1 + Math.Exp(-zr[j]));
            }
            for (int start = 0; start < d; start += groupSize)
                RmsSegmentBackward(g, w, dy, start, groupSize, eps, dw, dg);
            for (int j = 0; j < d; j++)
            {
                double s = 1 / (1 + Math.Exp(-zr[j]));
                pdx[at + j] = T.CreateTruncating(dg[j] * zr[j] * s);
                pdz[row * sdz + j] = T.CreateTruncating(dg[j] * xr[j] * s * (1 + zr[j] * (1 - s)));
            }
        }
        StoreDouble<T>(dw, dWeight);
    }

    /// <inheritdoc />
    public virtual void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor output)
    {
        int d = NormChecks.Rows(nameof(LayerNorm), x, [output], [weight, bias]);
        if (IsDouble(nameof(LayerNorm), x.DType)) LayerNormT<double>(x, weight, bias, eps, d, output);
        else LayerNormT<float>(x, weight, bias, eps, d, output);
    }

    private static void LayerNormT<T>(Tensor x, Tensor? weight, Tensor? bias, double eps, int d, Tensor output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (d == 0) return;
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        double[]? w = weight is null ? null : LoadDouble<T>(weight), b = bias is null ? null : LoadDouble<T>(bias);
        long rows = x.Count / d;
        var xr = new double[d];
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++) xr[j] = double.CreateTruncating(px[at + j]);
            var (mean, rstd) = MeanRstd(xr, 0, d, eps);
            for (int j = 0; j < d; j++)
                po[at + j] = T.CreateTruncating((xr[j] - mean) * rstd * (w?[j] ?? 1) + (b?[j] ?? 0));
        }
    }

    // Mean and 1/sqrt(biased variance + eps) of v[start..start+n), two passes in double.
    private static (double Mean, double Rstd) MeanRstd(double[] v, long start, long n, double eps)
    {
        double sum = 0;
        for (long j = start; j < start + n; j++) sum += v[j];
        double mean = sum / n, sq = 0;
        for (long j = start; j < start + n; j++) sq += (v[j] - mean) * (v[j] - mean);
        return (mean, 1.0 / Math.Sqrt(sq / n + eps));
    }

    /// <inheritdoc />
    public virtual void LayerNormBackward(Tensor x, Tensor? weight, Tensor dOutput, double eps, Tensor dX, Tensor? dWeight, Tensor? dBias)
    {
        int d = NormChecks.Rows(nameof(LayerNormBackward), x, [dOutput, dX], [weight, dWeight, dBias]);
        if (IsDouble(nameof(LayerNormBackward), x.DType)) LayerNormBackwardT<double>(x, weight, dOutput, eps, d, dX, dWeight, dBias);
        else LayerNormBackwardT<float>(x, weight, dOutput, eps, d, dX, dWeight, dBias);
    }

    private static void LayerNormBackwardT<T>(Tensor x, Tensor? weight, Tensor dOutput, double eps, int d, Tensor dX, Tensor? dWeight, Tensor? dBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pdx = (T*)dX.DataPointer;
        double[]? w = weight is null ? null : LoadDouble<T>(weight);
        double[] dw = new double[d], db = new double[d], xr = new double[d], xh = new double[d], dxh = new double[d];
        long rows = d == 0 ? 0 : x.Count / d;
        for (long row = 0; row < rows; row++)
        {
            long at = row * d;
            for (int j = 0; j < d; j++) xr[j] = double.CreateTruncating(px[at + j]);
            var (mean, rstd) = MeanRstd(xr, 0, d, eps);
            double m1 = 0, m2 = 0;
            for (int j = 0; j < d; j++)
            {
                double dy = double.CreateTruncating(pg[at + j]);
                xh[j] = (xr[j] - mean) * rstd;
                dxh[j] = dy * (w?[j] ?? 1);
                m1 += dxh[j];
                m2 += dxh[j] * xh[j];
                dw[j] += dy * xh[j];
                db[j] += dy;
            }
            m1 /= d;
            m2 /= d;
            for (int j = 0; j < d; j++) pdx[at + j] = T.CreateTruncating(rstd * (dxh[j] - m1 - xh[j] * m2));
        }
        if (dWeight is not null) StoreDouble<T>(dw, dWeight);
        if (dBias is not null) StoreDouble<T>(db, dBias);
    }

    /// <inheritdoc />
    public virtual void GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor output)
    {
        var (n, c, s) = NormChecks.Groups(nameof(GroupNorm), x, groups, [output], [weight, bias]);
        if (IsDouble(nameof(GroupNorm), x.DType)) GroupNormT<double>(x, groups, weight, bias, eps, n, c, s, output);
        else GroupNormT<float>(x, groups, weight, bias, eps, n, c, s, output);
    }

    private static void GroupNormT<T>(Tensor x, int groups, Tensor weight, Tensor bias, double eps, int n, int c, long s, Tensor output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        double[] w = LoadDouble<T>(weight), b = LoadDouble<T>(bias);
        int cg = c / groups;
        long m = cg * s;
        var xr = new double[m];
        for (int ni = 0; ni < n; ni++)
        {
            for (int gi = 0; gi < groups; gi++)
            {
                long at = ((long)ni * c + (long)gi * cg) * s;
                for (long k = 0; k < m; k++) xr[k] = double.CreateTruncating(px[at + k]);
                var (mean, rstd) = MeanRstd(xr, 0, m, eps);
                for (long k = 0; k < m; k++)
                {
                    int ch = gi * cg + (int)(k / s);
                    po[at + k] = T.CreateTruncating((xr[k] - mean) * rstd * w[ch] + b[ch]);
                }
            }
        }
    }

    /// <inheritdoc />
    public virtual void GroupNormBackward(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight, Tensor dBias)
    {
        var (n, c, s) = NormChecks.Groups(nameof(GroupNormBackward), x, groups, [dOutput, dX], [weight, dWeight, dBias]);
        if (IsDouble(nameof(GroupNormBackward), x.DType)) GroupNormBackwardT<double>(x, groups, weight, dOutput, eps, n, c, s, dX, dWeight, dBias);
        else GroupNormBackwardT<float>(x, groups, weight, dOutput, eps, n, c, s, dX, dWeight, dBias);
    }

    private static void GroupNormBackwardT<T>(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, int n, int c, long s, Tensor dX, Tensor dWeight, Tensor dBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pdx = (T*)dX.DataPointer;
        double[] w = LoadDouble<T>(weight), dw = new double[c], db = new double[c];
        int cg = c / groups;
        long m = cg * s;
        double[] xr = new double[m], xh = new double[m], dxh = new double[m];
        for (int ni = 0; ni < n; ni++)
        {
            for (int gi = 0; gi < groups; gi++)
            {
                long at = ((long)ni * c + (long)gi * cg) * s;
                for (long k = 0; k < m; k++) xr[k] = double.CreateTruncating(px[at + k]);
                var (mean, rstd) = MeanRstd(xr, 0, m, eps);
                double m1 = 0, m2 = 0;
                for (long k = 0; k < m; k++)
                {
                    int ch = gi * cg + (int)(k / s);
                    double dy = double.CreateTruncating(pg[at + k]);
                    xh[k] = (xr[k] - mean) * rstd;
                    dxh[k] = dy * w[ch];
                    m1 += dxh[k];
                    m2 += dxh[k] * xh[k];
                    dw[ch] += dy * xh[k];
                    db[ch] += dy;
                }
                m1 /= m;
                m2 /= m;
                for (long k = 0; k < m; k++) pdx[at + k] = T.CreateTruncating(rstd * (dxh[k] - m1 - xh[k] * m2));
            }
        }
        StoreDouble<T>(dw, dWeight);
        StoreDouble<T>(db, dBias);
    }

    // ---- small helpers for the row kernels

    private static double[] LoadDouble<T>(Tensor t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* p = (T*)t.DataPointer;
        var a = new double[t.Count];
        for (long i = 0; i < a.Length; i++) a[i] = double.CreateTruncating(p[i]);
        return a;
    }

    private static void StoreDouble<T>(double[] values, Tensor t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* p = (T*)t.DataPointer;
        for (long i = 0; i < values.Length; i++) p[i] = T.CreateTruncating(values[i]);
    }
}

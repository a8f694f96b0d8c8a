using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: Conv2d, Conv2dBackwardInput, Conv2dBackwardWeight, UpsampleNearest2x(+Backward), L2Normalize(+Backward),
// NearestCode (reference versions). Formulas: PyTorch Conv2d / F.interpolate(nearest) / F.normalize definitions and
// the LlamaGen VectorQuantizer distance (spec §8.5); derivations of the backward passes are in IKernels.Conv.cs.
public unsafe partial class ReferenceKernels
{
    /// <summary>Checks the operands of a convolution kernel and returns its geometry (input shape given by <paramref name="inputShape"/>).</summary>
    protected static Conv2dGeometry CheckConv2d(string op, ReadOnlySpan<int> inputShape, Tensor weight, Tensor outputGrad,
        int stride, int padTop, int padBottom, int padLeft, int padRight)
    {
        var g = Conv2dGeometry.Create(op, inputShape, weight.Shape, stride, padTop, padBottom, padLeft, padRight);
        KernelChecks.Shape(op, "output", outputGrad, g.N, g.Cout, g.Ho, g.Wo);
        return g;
    }

    /// <inheritdoc />
    public virtual void Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor output)
    {
        var g = CheckConv2d(nameof(Conv2d), x.Shape, weight, output, stride, padTop, padBottom, padLeft, padRight);
        KernelChecks.SameDType(nameof(Conv2d), x, weight, output);
        KernelChecks.Contiguous(nameof(Conv2d), "x", x);
        KernelChecks.Contiguous(nameof(Conv2d), "weight", weight);
        KernelChecks.Contiguous(nameof(Conv2d), "output", output);
        if (bias is not null)
        {
            KernelChecks.Shape(nameof(Conv2d), "bias", bias, g.Cout);
            KernelChecks.SameDType(nameof(Conv2d), x, bias);
            KernelChecks.Contiguous(nameof(Conv2d), "bias", bias);
        }
        if (IsDouble(nameof(Conv2d), x.DType)) Conv2dT<double>(x, weight, bias, g, output);
        else Conv2dT<float>(x, weight, bias, g, output);
    }

    private static void Conv2dT<T>(Tensor x, Tensor weight, Tensor? bias, Conv2dGeometry g, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pw = (T*)weight.DataPointer, po = (T*)output.DataPointer;
        T* pb = bias is null ? null : (T*)bias.DataPointer;
        for (int n = 0; n < g.N; n++)
            for (int co = 0; co < g.Cout; co++)
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        double sum = pb is null ? 0 : double.CreateTruncating(pb[co]);
                        for (int ci = 0; ci < g.Cin; ci++)
                            for (int ky = 0; ky < g.Kh; ky++)
                            {
                                int iy = oy * g.Stride - g.PadTop + ky;
                                if (iy < 0 || iy >= g.H) continue;
                                for (int kx = 0; kx < g.Kw; kx++)
                                {
                                    int ix = ox * g.Stride - g.PadLeft + kx;
                                    if (ix < 0 || ix >= g.W) continue;
                                    double xv = double.CreateTruncating(px[(((long)n * g.Cin + ci) * g.H + iy) * g.W + ix]);
                                    double wv = double.CreateTruncating(pw[(((long)co * g.Cin + ci) * g.Kh + ky) * g.Kw + kx]);
                                    sum += xv * wv;
                                }
                            }
                        po[(((long)n * g.Cout + co) * g.Ho + oy) * g.Wo + ox] = T.CreateTruncating(sum);
                    }
    }

    /// <inheritdoc />
    public virtual void Conv2dBackwardInput(Tensor dOutput, Tensor weight, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dInput)
    {
        const string op = nameof(Conv2dBackwardInput);
        var g = CheckConv2d(op, dInput.Shape, weight, dOutput, stride, padTop, padBottom, padLeft, padRight);
        KernelChecks.SameDType(op, dOutput, weight, dInput);
        KernelChecks.Contiguous(op, "dOutput", dOutput);
        KernelChecks.Contiguous(op, "weight", weight);
        KernelChecks.Contiguous(op, "dInput", dInput);
        if (IsDouble(op, dInput.DType)) Conv2dBackwardInputT<double>(dOutput, weight, g, dInput);
        else Conv2dBackwardInputT<float>(dOutput, weight, g, dInput);
    }

    private static void Conv2dBackwardInputT<T>(Tensor dOutput, Tensor weight, Conv2dGeometry g, Tensor dInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pg = (T*)dOutput.DataPointer, pw = (T*)weight.DataPointer, pd = (T*)dInput.DataPointer;
        var acc = new double[dInput.Count];
        for (int n = 0; n < g.N; n++)
            for (int co = 0; co < g.Cout; co++)
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ox = 0; ox < g.Wo; ox++)
                    {
                        double gv = double.CreateTruncating(pg[(((long)n * g.Cout + co) * g.Ho + oy) * g.Wo + ox]);
                        for (int ci = 0; ci < g.Cin; ci++)
                            for (int ky = 0; ky < g.Kh; ky++)
                            {
                                int iy = oy * g.Stride - g.PadTop + ky;
                                if (iy < 0 || iy >= g.H) continue;
                                for (int kx = 0; kx < g.Kw; kx++)
                                {
                                    int ix = ox * g.Stride - g.PadLeft + kx;
                                    if (ix < 0 || ix >= g.W) continue;
                                    double wv = double.CreateTruncating(pw[(((long)co * g.Cin + ci) * g.Kh + ky) * g.Kw + kx]);
                                    acc[(((long)n * g.Cin + ci) * g.H + iy) * g.W + ix] += gv * wv;
                                }
                            }
                    }
        for (long i = 0; i < acc.Length; i++) pd[i] = T.CreateTruncating(acc[i]);
    }

    /// <inheritdoc />
    public virtual void Conv2dBackwardWeight(Tensor x, Tensor dOutput, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dWeight)
    {
        const string op = nameof(Conv2dBackwardWeight);
        var g = CheckConv2d(op, x.Shape, dWeight, dOutput, stride, padTop, padBottom, padLeft, padRight);
        KernelChecks.SameDType(op, x, dOutput, dWeight);
        KernelChecks.Contiguous(op, "x", x);
        KernelChecks.Contiguous(op, "dOutput", dOutput);
        KernelChecks.Contiguous(op, "dWeight", dWeight);
        if (IsDouble(op, x.DType)) Conv2dBackwardWeightT<double>(x, dOutput, g, dWeight);
        else Conv2dBackwardWeightT<float>(x, dOutput, g, dWeight);
    }

    private static void Conv2dBackwardWeightT<T>(Tensor x, Tensor dOutput, Conv2dGeometry g, Tensor dWeight) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pd = (T*)dWeight.DataPointer;
        for (int co = 0; co < g.Cout; co++)
            for (int ci = 0; ci < g.Cin; ci++)
                for (int ky = 0; ky < g.Kh; ky++)
                    for (int kx = 0; kx < g.Kw; kx++)
                    {
                        double sum = 0;
                        for (int n = 0; n < g.N; n++)
                            for (int oy = 0; oy < g.Ho; oy++)
                            {
                                int iy = oy * g.Stride - g.PadTop + ky;
                                if (iy < 0 || iy >= g.H) continue;
                                for (int ox = 0; ox < g.Wo; ox++)
                                {
                                    int ix = ox * g.Stride - g.PadLeft + kx;
                                    if (ix < 0 || ix >= g.W) continue;
                                    double gv = double.CreateTruncating(pg[(((long)n * g.Cout + co) * g.Ho + oy) * g.Wo + ox]);
                                    sum += gv * double.CreateTruncating(px[(((long)n * g.Cin + ci) * g.H + iy) * g.W + ix]);
                                }
                            }
                        pd[(((long)co * g.Cin + ci) * g.Kh + ky) * g.Kw + kx] = T.CreateTruncating(sum);
                    }
    }

    /// <summary>Checks an upsampling pair: small (N, C, H, W) and large (N, C, 2H, 2W), same dtype, contiguous.</summary>
    protected static void CheckUpsample(string op, Tensor small, Tensor large)
    {
        KernelChecks.Rank(op, "input", small, 4);
        KernelChecks.Shape(op, "output", large, small.Shape[0], small.Shape[1], 2 * small.Shape[2], 2 * small.Shape[3]);
        KernelChecks.SameDType(op, small, large);
        KernelChecks.Contiguous(op, "input", small);
        KernelChecks.Contiguous(op, "output", large);
    }

    /// <inheritdoc />
    public virtual void UpsampleNearest2x(Tensor x, Tensor output)
    {
        CheckUpsample(nameof(UpsampleNearest2x), x, output);
        if (IsDouble(nameof(UpsampleNearest2x), x.DType)) UpsampleT<double>(x, output);
        else UpsampleT<float>(x, output);
    }

    private static void UpsampleT<T>(Tensor x, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        long planes = (long)x.Shape[0] * x.Shape[1];
        int h = x.Shape[2], w = x.Shape[3];
        for (long p = 0; p < planes; p++)
            for (int y = 0; y < 2 * h; y++)
                for (int xo = 0; xo < 2 * w; xo++)
                    po[(p * 2 * h + y) * 2 * w + xo] = px[(p * h + y / 2) * w + xo / 2];
    }

    /// <inheritdoc />
    public virtual void UpsampleNearest2xBackward(Tensor dOutput, Tensor dInput)
    {
        CheckUpsample(nameof(UpsampleNearest2xBackward), dInput, dOutput);
        if (IsDouble(nameof(UpsampleNearest2xBackward), dInput.DType)) UpsampleBackwardT<double>(dOutput, dInput);
        else UpsampleBackwardT<float>(dOutput, dInput);
    }

    private static void UpsampleBackwardT<T>(Tensor dOutput, Tensor dInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pg = (T*)dOutput.DataPointer, pd = (T*)dInput.DataPointer;
        long planes = (long)dInput.Shape[0] * dInput.Shape[1];
        int h = dInput.Shape[2], w = dInput.Shape[3];
        for (long p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double sum = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            sum += double.CreateTruncating(pg[(p * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dx]);
                    pd[(p * h + y) * w + x] = T.CreateTruncating(sum);
                }
    }

    /// <summary>Checks an L2-normalisation operand against its partner; returns (rows, D).</summary>
    protected static (long Rows, int D) CheckL2Rows(string op, Tensor x, Tensor other, string otherName)
    {
        if (x.Rank < 1 || x.Shape[^1] == 0)
            throw new ArgumentException($"{op}: x must have a non-empty last dimension, got shape {Tensor.ShapeString(x.Shape)}");
        KernelChecks.SameShape(op, x, other);
        KernelChecks.SameDType(op, x, other);
        KernelChecks.Contiguous(op, "x", x);
        KernelChecks.Contiguous(op, otherName, other);
        int d = x.Shape[^1];
        return (x.Count / d, d);
    }

    /// <inheritdoc />
    public virtual void L2Normalize(Tensor x, double eps, Tensor output)
    {
        var (rows, d) = CheckL2Rows(nameof(L2Normalize), x, output, "output");
        if (IsDouble(nameof(L2Normalize), x.DType)) L2NormalizeT<double>(x, eps, output, rows, d);
        else L2NormalizeT<float>(x, eps, output, rows, d);
    }

    private static void L2NormalizeT<T>(Tensor x, double eps, Tensor output, long rows, int d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        for (long r = 0; r < rows; r++)
        {
            T* row = px + r * d;
            double ss = 0;
            for (int i = 0; i < d; i++)
            {
                double v = double.CreateTruncating(row[i]);
                ss += v * v;
            }
            double denom = Math.Max(Math.Sqrt(ss), eps);
            for (int i = 0; i < d; i++) po[r * d + i] = T.CreateTruncating(double.CreateTruncating(row[i]) / denom);
        }
    }

    /// <inheritdoc />
    public virtual void L2NormalizeBackward(Tensor x, Tensor dOutput, double eps, Tensor dInput)
    {
        const string op = nameof(L2NormalizeBackward);
        var (rows, d) = CheckL2Rows(op, x, dOutput, "dOutput");
        CheckL2Rows(op, x, dInput, "dInput");
        if (IsDouble(op, x.DType)) L2NormalizeBackwardT<double>(x, dOutput, eps, dInput, rows, d);
        else L2NormalizeBackwardT<float>(x, dOutput, eps, dInput, rows, d);
    }

    private static void L2NormalizeBackwardT<T>(Tensor x, Tensor dOutput, double eps, Tensor dInput, long rows, int d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, pg = (T*)dOutput.DataPointer, pd = (T*)dInput.DataPointer;
        for (long r = 0; r < rows; r++)
        {
            long at = r * d;
            double ss = 0;
            for (int i = 0; i < d; i++)
            {
                double v = double.CreateTruncating(px[at + i]);
                ss += v * v;
            }
            double norm = Math.Sqrt(ss);
            if (norm >= eps)
            {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += double.CreateTruncating(px[at + i]) / norm * double.CreateTruncating(pg[at + i]);
                for (int i = 0; i < d; i++)
                {
                    double y = double.CreateTruncating(px[at + i]) / norm;
                    pd[at + i] = T.CreateTruncating((double.CreateTruncating(pg[at + i]) - y * dot) / norm);
                }
            }
            else
            {
                for (int i = 0; i < d; i++) pd[at + i] = T.CreateTruncating(double.CreateTruncating(pg[at + i]) / eps);
            }
        }
    }

    /// <summary>Checks NearestCode operands; returns (M, K, D).</summary>
    public static (int M, int K, int D) CheckNearestCode(Tensor z, Tensor codebook, Tensor output)
    {
        const string op = nameof(NearestCode);
        KernelChecks.Rank(op, "z", z, 2);
        KernelChecks.Rank(op, "codebook", codebook, 2);
        if (z.Shape[1] != codebook.Shape[1] || codebook.Shape[0] == 0)
            throw new ArgumentException($"{op}: z {Tensor.ShapeString(z.Shape)} (M, D) and codebook {Tensor.ShapeString(codebook.Shape)} (K, D) do not match");
        KernelChecks.SameDType(op, z, codebook);
        KernelChecks.Shape(op, "output", output, z.Shape[0]);
        KernelChecks.DType(op, "output", output, DType.Int64);
        KernelChecks.Contiguous(op, "z", z);
        KernelChecks.Contiguous(op, "codebook", codebook);
        KernelChecks.Contiguous(op, "output", output);
        return (z.Shape[0], codebook.Shape[0], z.Shape[1]);
    }

    /// <inheritdoc />
    public virtual void NearestCode(Tensor z, Tensor codebook, Tensor output)
    {
        CheckNearestCode(z, codebook, output);
        if (IsDouble(nameof(NearestCode), z.DType)) NearestCodeT<double>(z, codebook, output);
        else NearestCodeT<float>(z, codebook, output);
    }

    private static void NearestCodeT<T>(Tensor z, Tensor codebook, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = z.Shape[0], k = codebook.Shape[0], d = z.Shape[1];
        T* pz = (T*)z.DataPointer, pe = (T*)codebook.DataPointer;
        long* po = (long*)output.DataPointer;
        T two = T.CreateTruncating(2);
        for (int i = 0; i < m; i++)
        {
            T* zi = pz + (long)i * d;
            T zz = T.Zero;
            for (int c = 0; c < d; c++) zz += zi[c] * zi[c];
            T best = T.PositiveInfinity;
            long bestIndex = 0;
            for (int j = 0; j < k; j++)
            {
                T* ej = pe + (long)j * d;
                T ee = T.Zero, dot = T.Zero;
                for (int c = 0; c < d; c++) ee += ej[c] * ej[c];
                for (int c = 0; c < d; c++) dot += zi[c] * ej[c];
                T dist = (zz + ee) - two * dot;
                if (dist < best)
                {
                    best = dist;
                    bestIndex = j;
                }
            }
            po[i] = bestIndex;
        }
    }
}

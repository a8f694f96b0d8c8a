using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Float32 SIMD + threaded Softmax, LogSoftmax, CrossEntropy and their backwards; other dtypes go to
// the reference. Same formulas as ReferenceKernels.Softmax.cs (max-subtracted, sums in double per block).
// The cross-entropy loss sums per-row losses in row order after the parallel part, so it is deterministic.
public unsafe partial class CpuKernels
{
    /// <inheritdoc />
    public override void Softmax(Tensor x, Tensor output)
    {
        if (x.DType != DType.Float32) { base.Softmax(x, output); return; }
        int v = NormChecks.Rows(nameof(Softmax), x, [output], []);
        SoftmaxRows(x, v, false, output);
    }

    /// <inheritdoc />
    public override void LogSoftmax(Tensor x, Tensor output)
    {
        if (x.DType != DType.Float32) { base.LogSoftmax(x, output); return; }
        int v = NormChecks.Rows(nameof(LogSoftmax), x, [output], []);
        SoftmaxRows(x, v, true, output);
    }

    private static void SoftmaxRows(Tensor x, int v, bool log, Tensor output)
    {
        if (v == 0) return;
        nint px = x.DataPointer, po = output.DataPointer;
        CpuParallel.For(x.Count / v, NormSimd.RowGrain(v), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* xr = (float*)px + r * v, yr = (float*)po + r * v;
                float max = NormSimd.Max(xr, v);
                if (log)
                {
                    double sum = NormSimd.SumExp(xr, v, max, null);
                    NormSimd.CenterAffine(xr, max, 1, (float)-Math.Log(sum), yr, v);
                }
                else
                {
                    double sum = NormSimd.SumExp(xr, v, max, yr);
                    NormSimd.Affine(yr, (float)(1.0 / sum), 0, yr, v);
                }
            }
        });
    }

    /// <inheritdoc />
    public override void SoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX)
    {
        if (y.DType != DType.Float32) { base.SoftmaxBackward(y, dOutput, dX); return; }
        int v = NormChecks.Rows(nameof(SoftmaxBackward), y, [dOutput, dX], []);
        SoftmaxBackwardRows(y, dOutput, v, false, dX);
    }

    /// <inheritdoc />
    public override void LogSoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX)
    {
        if (y.DType != DType.Float32) { base.LogSoftmaxBackward(y, dOutput, dX); return; }
        int v = NormChecks.Rows(nameof(LogSoftmaxBackward), y, [dOutput, dX], []);
        SoftmaxBackwardRows(y, dOutput, v, true, dX);
    }

    private static void SoftmaxBackwardRows(Tensor y, Tensor dOutput, int v, bool log, Tensor dX)
    {
        if (v == 0) return;
        nint py = y.DataPointer, pg = dOutput.DataPointer, pd = dX.DataPointer;
        CpuParallel.For(y.Count / v, NormSimd.RowGrain(v), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* yr = (float*)py + r * v, gr = (float*)pg + r * v, dr = (float*)pd + r * v;
                int j = 0;
                if (log)
                {
                    // dx = dy - e^y·Σdy
                    var s = Vector256.Create((float)NormSimd.Sum(gr, v));
                    for (; j + 8 <= v; j += 8) (Vector256.Load(gr + j) - Vector256.Exp(Vector256.Load(yr + j)) * s).Store(dr + j);
                    for (; j < v; j++) dr[j] = gr[j] - MathF.Exp(yr[j]) * s[0];
                }
                else
                {
                    // dx = y·(dy - Σdy·y)
                    var s = Vector256.Create((float)NormSimd.Dot(gr, yr, v));
                    for (; j + 8 <= v; j += 8) (Vector256.Load(yr + j) * (Vector256.Load(gr + j) - s)).Store(dr + j);
                    for (; j < v; j++) dr[j] = yr[j] * (gr[j] - s[0]);
                }
            }
        });
    }

    /// <inheritdoc />
    public override void CrossEntropy(Tensor logits, Tensor targets, Tensor loss)
    {
        if (logits.DType != DType.Float32) { base.CrossEntropy(logits, targets, loss); return; }
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropy), logits, targets, []);
        KernelChecks.Shape(nameof(CrossEntropy), "loss", loss, 1);
        KernelChecks.SameDType(nameof(CrossEntropy), logits, loss);
        NormChecks.IndicesInRange(nameof(CrossEntropy), "target", targets, v);
        var rowLoss = new double[n];
        nint pl = logits.DataPointer;
        CpuParallel.For(n, NormSimd.RowGrain(v), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* xr = (float*)pl + r * v;
                float max = NormSimd.Max(xr, v);
                double lse = max + Math.Log(NormSimd.SumExp(xr, v, max, null));
                rowLoss[r] = lse - xr[NormChecks.ReadIndex(targets, r)];
            }
        });
        double total = 0;
        foreach (double l in rowLoss) total += l;
        ((float*)loss.DataPointer)[0] = (float)(total / n);
    }

    /// <inheritdoc />
    public override void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits)
    {
        if (logits.DType != DType.Float32) { base.CrossEntropyBackward(logits, targets, dLoss, dLogits); return; }
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropyBackward), logits, targets, [dLogits]);
        KernelChecks.Shape(nameof(CrossEntropyBackward), "dLoss", dLoss, 1);
        KernelChecks.SameDType(nameof(CrossEntropyBackward), logits, dLoss);
        NormChecks.IndicesInRange(nameof(CrossEntropyBackward), "target", targets, v);
        double scale = ((float*)dLoss.DataPointer)[0] / (double)n;
        nint pl = logits.DataPointer, pd = dLogits.DataPointer;
        CpuParallel.For(n, NormSimd.RowGrain(v), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* xr = (float*)pl + r * v, dr = (float*)pd + r * v;
                float max = NormSimd.Max(xr, v);
                double sum = NormSimd.SumExp(xr, v, max, dr);
                NormSimd.Affine(dr, (float)(scale / sum), 0, dr, v);
                dr[NormChecks.ReadIndex(targets, r)] -= (float)scale;
            }
        });
    }
}

using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: Softmax, LogSoftmax, CrossEntropy and their backwards (reference versions).
// Rows are max-subtracted before exponentiating (so no overflow), sums are in double.
// Formulas in IKernels.Softmax.cs.
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void Softmax(Tensor x, Tensor output)
    {
        int v = NormChecks.Rows(nameof(Softmax), x, [output], []);
        if (IsDouble(nameof(Softmax), x.DType)) SoftmaxT<double>(x, v, false, output);
        else SoftmaxT<float>(x, v, false, output);
    }

    /// <inheritdoc />
    public virtual void LogSoftmax(Tensor x, Tensor output)
    {
        int v = NormChecks.Rows(nameof(LogSoftmax), x, [output], []);
        if (IsDouble(nameof(LogSoftmax), x.DType)) SoftmaxT<double>(x, v, true, output);
        else SoftmaxT<float>(x, v, true, output);
    }

    private static void SoftmaxT<T>(Tensor x, int v, bool log, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (v == 0) return;
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        long rows = x.Count / v;
        for (long row = 0; row < rows; row++)
        {
            T* xr = px + row * v, yr = po + row * v;
            double lse = LogSumExp(xr, v, out double max);
            for (int j = 0; j < v; j++)
            {
                double shifted = double.CreateTruncating(xr[j]) - max;
                yr[j] = T.CreateTruncating(log ? shifted - (lse - max) : Math.Exp(shifted - (lse - max)));
            }
        }
    }

    // ln Σ e^x over a row, computed as max + ln Σ e^(x - max) in double.
    private static double LogSumExp<T>(T* row, int n, out double max) where T : unmanaged, IFloatingPointIeee754<T>
    {
        max = double.NegativeInfinity;
        for (int j = 0; j < n; j++) max = Math.Max(max, double.CreateTruncating(row[j]));
        double sum = 0;
        for (int j = 0; j < n; j++) sum += Math.Exp(double.CreateTruncating(row[j]) - max);
        return max + Math.Log(sum);
    }

    /// <inheritdoc />
    public virtual void SoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX)
    {
        int v = NormChecks.Rows(nameof(SoftmaxBackward), y, [dOutput, dX], []);
        if (IsDouble(nameof(SoftmaxBackward), y.DType)) SoftmaxBackwardT<double>(y, dOutput, v, false, dX);
        else SoftmaxBackwardT<float>(y, dOutput, v, false, dX);
    }

    /// <inheritdoc />
    public virtual void LogSoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX)
    {
        int v = NormChecks.Rows(nameof(LogSoftmaxBackward), y, [dOutput, dX], []);
        if (IsDouble(nameof(LogSoftmaxBackward), y.DType)) SoftmaxBackwardT<double>(y, dOutput, v, true, dX);
        else SoftmaxBackwardT<float>(y, dOutput, v, true, dX);
    }

    private static void SoftmaxBackwardT<T>(Tensor y, Tensor dOutput, int v, bool log, Tensor dX) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (v == 0) return;
        T* py = (T*)y.DataPointer, pg = (T*)dOutput.DataPointer, pd = (T*)dX.DataPointer;
        long rows = y.Count / v;
        for (long row = 0; row < rows; row++)
        {
            long at = row * v;
            // softmax: s = Σ dy·y, dx = y (dy - s);  log-softmax: s = Σ dy, dx = dy - e^y s.
            double s = 0;
            for (int j = 0; j < v; j++)
                s += double.CreateTruncating(pg[at + j]) * (log ? 1 : double.CreateTruncating(py[at + j]));
            for (int j = 0; j < v; j++)
            {
                double yv = double.CreateTruncating(py[at + j]), dy = double.CreateTruncating(pg[at + j]);
                pd[at + j] = T.CreateTruncating(log ? dy - Math.Exp(yv) * s : yv * (dy - s));
            }
        }
    }

    /// <inheritdoc />
    public virtual void CrossEntropy(Tensor logits, Tensor targets, Tensor loss)
    {
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropy), logits, targets, []);
        KernelChecks.Shape(nameof(CrossEntropy), "loss", loss, 1);
        KernelChecks.SameDType(nameof(CrossEntropy), logits, loss);
        NormChecks.IndicesInRange(nameof(CrossEntropy), "target", targets, v);
        if (IsDouble(nameof(CrossEntropy), logits.DType)) CrossEntropyT<double>(logits, targets, n, v, loss);
        else CrossEntropyT<float>(logits, targets, n, v, loss);
    }

    private static void CrossEntropyT<T>(Tensor logits, Tensor targets, int n, int v, Tensor loss) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pl = (T*)logits.DataPointer;
        double total = 0;
        for (int row = 0; row < n; row++)
        {
            T* xr = pl + (long)row * v;
            long t = NormChecks.ReadIndex(targets, row);
            total += LogSumExp(xr, v, out _) - double.CreateTruncating(xr[t]);
        }
        ((T*)loss.DataPointer)[0] = T.CreateTruncating(total / n);
    }

    /// <inheritdoc />
    public virtual void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits)
    {
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropyBackward), logits, targets, [dLogits]);
        KernelChecks.Shape(nameof(CrossEntropyBackward), "dLoss", dLoss, 1);
        KernelChecks.SameDType(nameof(CrossEntropyBackward), logits, dLoss);
        NormChecks.IndicesInRange(nameof(CrossEntropyBackward), "target", targets, v);
        if (IsDouble(nameof(CrossEntropyBackward), logits.DType)) CrossEntropyBackwardT<double>(logits, targets, dLoss, n, v, dLogits);
        else CrossEntropyBackwardT<float>(logits, targets, dLoss, n, v, dLogits);
    }

    private static void CrossEntropyBackwardT<T>(Tensor logits, Tensor targets, Tensor dLoss, int n, int v, Tensor dLogits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pl = (T*)logits.DataPointer, pd = (T*)dLogits.DataPointer;
        double scale = double.CreateTruncating(((T*)dLoss.DataPointer)[0]) / n;
        for (int row = 0; row < n; row++)
        {
            T* xr = pl + (long)row * v;
            T* dr = pd + (long)row * v;
            long t = NormChecks.ReadIndex(targets, row);
            double lse = LogSumExp(xr, v, out _);
            for (int j = 0; j < v; j++)
            {
                double p = Math.Exp(double.CreateTruncating(xr[j]) - lse);
                dr[j] = T.CreateTruncating((p - (j == t ? 1 : 0)) * scale);
            }
        }
    }
}

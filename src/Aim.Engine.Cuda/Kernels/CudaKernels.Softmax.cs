// The softmax family of the contract (IKernels.Softmax.cs) on CUDA: Softmax, LogSoftmax, CrossEntropy and
// their backwards. Formulas are the reference kernels' (ReferenceKernels.Softmax.cs); kernels in softmax.cu.
// Float32 and bf16 (float32 math). The cross-entropy mean is a fixed-order sum (deterministic) and dLoss
// is read on the device. Targets are range-checked on the host (a copy of the ids and a stream sync).
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int CrossEntropyMeanThreads = 1024;

    /// <inheritdoc />
    public void Softmax(Tensor x, Tensor output) => LaunchSoftmax(nameof(Softmax), false, x, output);

    /// <inheritdoc />
    public void LogSoftmax(Tensor x, Tensor output) => LaunchSoftmax(nameof(LogSoftmax), true, x, output);

    private void LaunchSoftmax(string op, bool log, Tensor x, Tensor output)
    {
        OnDevice(op, x, output);
        int v = NormChecks.Rows(op, x, [output], []);
        FloatCompute(op, x.DType);
        if (v == 0 || x.Count == 0) return;
        long rows = x.Count / v;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(log ? 1 : 0);
        args.Add(Ptr(x));
        args.Add(v);
        args.Add(rows);
        args.Add(Ptr(output));
        Launch(Function("softmax.cu", $"softmax_{Suffix(x.DType)}"), RowGrid(rows), RowThreads(v), 0, args);
    }

    /// <inheritdoc />
    public void SoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX) => LaunchSoftmaxBackward(nameof(SoftmaxBackward), false, y, dOutput, dX);

    /// <inheritdoc />
    public void LogSoftmaxBackward(Tensor y, Tensor dOutput, Tensor dX) => LaunchSoftmaxBackward(nameof(LogSoftmaxBackward), true, y, dOutput, dX);

    private void LaunchSoftmaxBackward(string op, bool log, Tensor y, Tensor dOutput, Tensor dX)
    {
        OnDevice(op, y, dOutput, dX);
        int v = NormChecks.Rows(op, y, [dOutput, dX], []);
        FloatCompute(op, y.DType);
        if (v == 0 || y.Count == 0) return;
        long rows = y.Count / v;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(log ? 1 : 0);
        args.Add(Ptr(y));
        args.Add(Ptr(dOutput));
        args.Add(v);
        args.Add(rows);
        args.Add(Ptr(dX));
        Launch(Function("softmax.cu", $"softmax_backward_{Suffix(y.DType)}"), RowGrid(rows), RowThreads(v), 0, args);
    }

    /// <inheritdoc />
    public void CrossEntropy(Tensor logits, Tensor targets, Tensor loss)
    {
        OnDevice(nameof(CrossEntropy), logits, targets, loss);
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropy), logits, targets, []);
        KernelChecks.Shape(nameof(CrossEntropy), "loss", loss, 1);
        KernelChecks.SameDType(nameof(CrossEntropy), logits, loss);
        FloatCompute(nameof(CrossEntropy), logits.DType);
        IdsInRange(nameof(CrossEntropy), "target", targets, v);
        string sfx = Suffix(logits.DType);
        using var rowLoss = Tensor.Empty([Math.Max(n, 1)], DType.Float32, logits.Device);
        if (n > 0)
        {
            var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
            args.Add(Ptr(logits));
            args.Add(Ptr(targets));
            args.Add(v);
            args.Add((long)n);
            args.Add(Ptr(rowLoss));
            Launch(Function("softmax.cu", $"ce_rows_{sfx}_{Suffix(targets.DType)}"), RowGrid(n), RowThreads(v), 0, args);
        }
        var mean = new KernelArgs(stackalloc byte[64], stackalloc nint[4]);
        mean.Add(Ptr(rowLoss));
        mean.Add((long)n);
        mean.Add(Ptr(loss));
        Launch(Function("softmax.cu", $"ce_mean_{sfx}"), 1, CrossEntropyMeanThreads, 0, mean);
    }

    /// <inheritdoc />
    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor dLoss, Tensor dLogits)
    {
        OnDevice(nameof(CrossEntropyBackward), logits, targets, dLoss, dLogits);
        var (n, v) = NormChecks.CrossEntropy(nameof(CrossEntropyBackward), logits, targets, [dLogits]);
        KernelChecks.Shape(nameof(CrossEntropyBackward), "dLoss", dLoss, 1);
        KernelChecks.SameDType(nameof(CrossEntropyBackward), logits, dLoss);
        FloatCompute(nameof(CrossEntropyBackward), logits.DType);
        IdsInRange(nameof(CrossEntropyBackward), "target", targets, v);
        if (n == 0 || v == 0) return;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(Ptr(logits));
        args.Add(Ptr(targets));
        args.Add(Ptr(dLoss));
        args.Add(v);
        args.Add((long)n);
        args.Add(Ptr(dLogits));
        Launch(Function("softmax.cu", $"ce_backward_{Suffix(logits.DType)}_{Suffix(targets.DType)}"), RowGrid(n), RowThreads(v), 0, args);
    }

    /// <summary>
    /// Throws the contract's ArgumentException for an id outside [0, limit). The ids live on the device, so
    /// this copies them to the host, which waits for the queued work that produces them.
    /// </summary>
    // Reads the ids back to the host (a synchronisation), except while a graph is captured: recorded decode steps
    // gather ids that the device sampler wrote, which are in range by construction.
    private void IdsInRange(string op, string name, Tensor ids, long limit)
    {
        if (ids.Count == 0 || _backend.IsCapturing) return;
        using var host = ids.To(Device.Cpu);
        NormChecks.IndicesInRange(op, name, host, limit);
    }
}

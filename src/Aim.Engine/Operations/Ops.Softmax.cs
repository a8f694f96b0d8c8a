using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: Softmax and LogSoftmax over the last dimension and the fused CrossEntropy loss (PyTorch
// F.cross_entropy with reduction='mean'), each with its backward kernel on the tape.
public static partial class Ops
{
    /// <summary>Softmax over the last dimension (numerically stable: max-subtracted).</summary>
    /// <param name="x">(..., V).</param>
    /// <returns>(..., V).</returns>
    public static Tensor Softmax(Tensor x) => SoftmaxCommon(x, log: false);

    /// <summary>Log-softmax over the last dimension (numerically stable: max-subtracted).</summary>
    /// <param name="x">(..., V).</param>
    /// <returns>(..., V).</returns>
    public static Tensor LogSoftmax(Tensor x) => SoftmaxCommon(x, log: true);

    private static Tensor SoftmaxCommon(Tensor x, bool log)
    {
        string op = log ? nameof(LogSoftmax) : nameof(Softmax);
        if (x.Rank < 1) throw new ArgumentException($"{op}: x must have at least one dimension");
        using var xc = ContiguousNoGrad(x);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        if (log) K(x).LogSoftmax(xc, y);
        else K(x).Softmax(xc, y);
        if (Tape.ShouldRecord(x))
        {
            // The backward needs only the output, which the tape keeps alive.
            Tape.Record(op, y, [x], g =>
            {
                using var gc = ContiguousNoGrad(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                if (log) K(x).LogSoftmaxBackward(y, gc, dx);
                else K(x).SoftmaxBackward(y, gc, dx);
                return [dx];
            });
        }
        return y;
    }

    /// <summary>
    /// Mean cross-entropy: (1/N) Σ_n -log_softmax(logits_n)[targets_n], one fused kernel forward and backward
    /// (dLogits = (softmax - onehot) / N · dLoss). A target outside [0, V) throws <see cref="ArgumentException"/>
    /// naming the op and the id.
    /// </summary>
    /// <param name="logits">(N, V), float.</param>
    /// <param name="targets">(N), i64 or i32; never differentiated.</param>
    /// <returns>The loss, shape (1).</returns>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        if (logits.Rank != 2 || targets.Rank != 1 || targets.Shape[0] != logits.Shape[0])
            throw new ArgumentException($"CrossEntropy: logits {Tensor.ShapeString(logits.Shape)} must be (N, V) and targets {Tensor.ShapeString(targets.Shape)} (N)");
        if (!logits.DType.IsFloat()) throw new ArgumentException($"CrossEntropy: logits must be float, got {logits.DType.ShortName()}");
        KernelChecks.IndexType(nameof(CrossEntropy), "targets", targets);
        SameDevice(nameof(CrossEntropy), logits, targets);
        using var lc = ContiguousNoGrad(logits);
        using var tc = ContiguousNoGrad(targets);
        var loss = Tensor.Empty([1], logits.DType, logits.Device);
        K(logits).CrossEntropy(lc, tc, loss);
        if (Tape.ShouldRecord(logits))
        {
            Tape.Record(nameof(CrossEntropy), loss, [logits, targets], g =>
            {
                using var ls = ContiguousNoGrad(logits);
                using var ts = ContiguousNoGrad(targets);
                using var gc = ContiguousNoGrad(g);
                var dl = Tensor.Empty(logits.Shape, logits.DType, logits.Device);
                K(logits).CrossEntropyBackward(ls, ts, gc, dl);
                return [dl, null];
            });
        }
        return loss;
    }
}

using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: MatMul (2-D and batched 3-D) and Linear (y = x W^T + b, PyTorch layout); under Autocast (Autograd/Autocast.cs)
// both run float32 operands as bf16 products with float32 accumulation, as torch.autocast does for matmul and linear.
public static partial class Ops
{
    /// <summary>
    /// Matrix product. a: (M, K) or (B, M, K); b: (K, N) or (B, K, N) (a 2-D operand is shared by every batch).
    /// Result (M, N) or (B, M, N). Inside an enabled <see cref="Autocast"/> scope, two float32 operands are
    /// multiplied in bf16 with float32 accumulation and a float32 result (forward and backward products alike).
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (Autocast.Target == DType.BFloat16 && a.DType == DType.Float32 && b.DType == DType.Float32)
            return MatMulBf16(a, b, transA, transB);
        var c = Product(a, b, transA, transB, a.DType);
        if (Tape.ShouldRecord(a, b))
        {
            Tape.Record(nameof(MatMul), c, [a, b], g =>
            {
                // C = op(A) op(B): dA = g op(B)^T (transposed back if A was), dB = op(A)^T g (likewise).
                // The backward products keep the forward's precision even if a backward runs inside an autocast scope.
                using var f32 = Autocast.Disable();
                Tensor? da = null, db = null;
                if (a.RequiresGrad)
                {
                    using var full = transA ? MatMul(b, g, transB, true) : MatMul(g, b, false, !transB);
                    da = SumToShape(full, a.Shape);
                }
                if (b.RequiresGrad)
                {
                    using var full = transB ? MatMul(g, a, true, transA) : MatMul(a, g, !transA, false);
                    db = SumToShape(full, b.Shape);
                }
                return [da, db];
            });
        }
        return c;
    }

    /// <summary>
    /// The autocast product of two float32 operands: both rounded to bf16 (not recorded), one bf16 GEMM with float32
    /// accumulation writing a float32 result, recorded as one op of the float32 operands. Its backward rounds the
    /// incoming gradient to bf16 and multiplies it with the forward's own bf16 operands, saved on the tape (b's copy
    /// when a needs a gradient, a's when b does), so every operand is cast once per product: the gradients are what
    /// re-casting the unchanged float32 operands gave, and they arrive in float32 without passing through bf16 tensors
    /// on the tape. The backward does not depend on the scope still being open.
    /// </summary>
    private static Tensor MatMulBf16(Tensor a, Tensor b, bool transA, bool transB)
    {
        Tensor c;
        Tensor a16, b16;
        using (Tape.NoGrad())
        {
            a16 = Cast(a, DType.BFloat16);
            b16 = Cast(b, DType.BFloat16);
            try
            {
                c = Product(a16, b16, transA, transB, DType.Float32);
            }
            catch
            {
                a16.Dispose();
                b16.Dispose();
                throw;
            }
        }
        using (a16)
        using (b16)
        {
            if (!Tape.ShouldRecord(a, b)) return c;
            // dA needs B, dB needs A: only those are saved (held by the tape past the disposals above).
            Tensor[] saved = (a.RequiresGrad, b.RequiresGrad) switch
            {
                (true, true) => [a16, b16],
                (true, false) => [b16],
                _ => [a16],
            };
            Tape.Record(nameof(MatMul), c, [a, b], saved, g =>
            {
                using var g16 = Cast(g, DType.BFloat16);
                Tensor? da = null, db = null;
                if (a.RequiresGrad)
                {
                    using var full = transA ? Product(b16, g16, transB, true, DType.Float32) : Product(g16, b16, false, !transB, DType.Float32);
                    da = SumToShape(full, a.Shape);
                }
                if (b.RequiresGrad)
                {
                    using var full = transB ? Product(g16, a16, true, transA, DType.Float32) : Product(a16, g16, !transA, false, DType.Float32);
                    db = SumToShape(full, b.Shape);
                }
                return [da, db];
            });
        }
        return c;
    }

    /// <summary>The unrecorded product op(a) op(b) with a result of <paramref name="outType"/> (shapes as in <see cref="MatMul"/>).</summary>
    private static Tensor Product(Tensor a, Tensor b, bool transA, bool transB, DType outType)
    {
        SameDevice(nameof(MatMul), a, b);
        if (a.Rank is < 2 or > 3 || b.Rank is < 2 or > 3)
            throw new ArgumentException($"MatMul: operands {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} must be 2-D or 3-D");
        bool batched = a.Rank == 3 || b.Rank == 3;
        using var a3 = As3D(a);
        using var b3 = As3D(b);
        int batch = Math.Max(a3.Shape[0], b3.Shape[0]);
        int m = transA ? a3.Shape[2] : a3.Shape[1];
        int n = transB ? b3.Shape[1] : b3.Shape[2];
        int ka = transA ? a3.Shape[1] : a3.Shape[2];
        int kb = transB ? b3.Shape[2] : b3.Shape[1];
        if (ka != kb || (a3.Shape[0] != batch && a3.Shape[0] != 1) || (b3.Shape[0] != batch && b3.Shape[0] != 1))
            throw new ArgumentException($"MatMul: {Tensor.ShapeString(a.Shape)}{(transA ? "^T" : "")} x {Tensor.ShapeString(b.Shape)}{(transB ? "^T" : "")} do not multiply");
        var c3 = Tensor.Empty([batch, m, n], outType, a.Device);
        K(a).Gemm(a3, b3, c3, transA, transB, 1.0, 0.0);
        if (batched) return c3;
        Tensor c;
        using (Tape.NoGrad()) c = Reshape(c3, m, n);
        c3.Dispose();
        return c;
    }

    private static Tensor As3D(Tensor t)
    {
        using (Tape.NoGrad())
        {
            using var c = Contiguous(t);
            return t.Rank == 3 ? c.CreateViewSame() : Reshape(c, 1, t.Shape[0], t.Shape[1]);
        }
    }

    /// <summary>
    /// y = x Wᵀ + b. x: (..., in); weight: (out, in); bias: (out) or null. Result (..., out). Under an enabled
    /// <see cref="Autocast"/> scope the product runs in bf16 (see <see cref="MatMul"/>); the bias add stays float32.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        KernelChecksLinear(x, weight, bias);
        int inFeatures = weight.Shape[1], outFeatures = weight.Shape[0];
        int[] outShape = x.Shape.ToArray();
        outShape[^1] = outFeatures;
        using var x2 = Reshape(x, -1, inFeatures);
        using var y2 = MatMul(x2, weight, transB: true);
        if (bias is null) return Reshape(y2, outShape);
        using var yb = Add(y2, bias);
        return Reshape(yb, outShape);
    }

    private static void KernelChecksLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Shape[^1] != weight.Shape[1])
            throw new ArgumentException($"Linear: input {Tensor.ShapeString(x.Shape)} does not match weight {Tensor.ShapeString(weight.Shape)} (out, in)");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != weight.Shape[0]))
            throw new ArgumentException($"Linear: bias {Tensor.ShapeString(bias.Shape)} does not match weight {Tensor.ShapeString(weight.Shape)}");
    }
}

using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: Add/Sub/Mul/Div with broadcasting, scalar affine ops, unary activations, Sum/Mean.
public static partial class Ops
{
    /// <summary>a + b (broadcasting).</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b);

    /// <summary>a - b (broadcasting).</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b);

    /// <summary>a * b (broadcasting).</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b);

    /// <summary>a / b (broadcasting).</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b);

    /// <summary>The broadcast shape of two shapes (NumPy rules), or an error naming the op.</summary>
    public static int[] BroadcastShape(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (x != y && x != 1 && y != 1)
                throw new ArgumentException($"{op}: shapes {Tensor.ShapeString(a)} and {Tensor.ShapeString(b)} do not broadcast");
            shape[i] = x == 1 ? y : x;
        }
        return shape;
    }

    private static Tensor Binary(BinaryOp op, Tensor a, Tensor b)
    {
        SameDevice(op.ToString(), a, b);
        if (a.DType != b.DType) throw new ArgumentException($"{op}: dtypes {a.DType.ShortName()} and {b.DType.ShortName()} differ");
        int[] shape = BroadcastShape(op.ToString(), a.Shape, b.Shape);
        var y = Tensor.Empty(shape, a.DType, a.Device);
        using (Tape.NoGrad())
        using (var ea = Expand(a, shape))
        using (var eb = Expand(b, shape))
            K(a).Binary(op, ea, eb, y);
        if (Tape.ShouldRecord(a, b))
        {
            Tape.Record(op.ToString(), y, [a, b], g => op switch
            {
                BinaryOp.Add => [a.RequiresGrad ? SumToShape(g, a.Shape) : null, b.RequiresGrad ? SumToShape(g, b.Shape) : null],
                BinaryOp.Sub => [a.RequiresGrad ? SumToShape(g, a.Shape) : null, b.RequiresGrad ? NegSum(g, b.Shape) : null],
                BinaryOp.Mul => [a.RequiresGrad ? ProductSum(g, b, a.Shape) : null, b.RequiresGrad ? ProductSum(g, a, b.Shape) : null],
                _ => DivBackward(g, a, b),
            });
        }
        return y;
    }

    private static Tensor NegSum(Tensor g, ReadOnlySpan<int> shape)
    {
        using var n = Neg(g);
        return SumToShape(n, shape);
    }

    private static Tensor ProductSum(Tensor g, Tensor other, ReadOnlySpan<int> shape)
    {
        using var p = Mul(g, other);
        return SumToShape(p, shape);
    }

    private static Tensor?[] DivBackward(Tensor g, Tensor a, Tensor b)
    {
        Tensor? da = null, db = null;
        if (a.RequiresGrad)
        {
            using var q = Div(g, b);
            da = SumToShape(q, a.Shape);
        }
        if (b.RequiresGrad)
        {
            // d(a/b)/db = -a / b^2
            using var q = Div(a, b);
            using var q2 = Div(q, b);
            using var p = Mul(g, q2);
            using var n = Neg(p);
            db = SumToShape(n, b.Shape);
        }
        return [da, db];
    }

    /// <summary>x * scale + shift, elementwise.</summary>
    public static Tensor Affine(Tensor x, double scale, double shift)
    {
        using var xc = ContiguousNoGrad(x);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).Affine(xc, scale, shift, y);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Affine), y, [x], g => [Affine(g, scale, 0)]);
        return y;
    }

    /// <summary>x * s.</summary>
    public static Tensor Scale(Tensor x, double s) => Affine(x, s, 0);

    /// <summary>x + s.</summary>
    public static Tensor AddScalar(Tensor x, double s) => Affine(x, 1, s);

    /// <summary>-x.</summary>
    public static Tensor Neg(Tensor x) => Unary(UnaryOp.Neg, x);
    /// <summary>e^x.</summary>
    public static Tensor Exp(Tensor x) => Unary(UnaryOp.Exp, x);
    /// <summary>ln x.</summary>
    public static Tensor Log(Tensor x) => Unary(UnaryOp.Log, x);
    /// <summary>√x.</summary>
    public static Tensor Sqrt(Tensor x) => Unary(UnaryOp.Sqrt, x);
    /// <summary>x².</summary>
    public static Tensor Square(Tensor x) => Unary(UnaryOp.Square, x);
    /// <summary>x·σ(x).</summary>
    public static Tensor Silu(Tensor x) => Unary(UnaryOp.Silu, x);
    /// <summary>σ(x) = 1/(1+e^-x).</summary>
    public static Tensor Sigmoid(Tensor x) => Unary(UnaryOp.Sigmoid, x);
    /// <summary>ln(1+e^x) (x itself above 20).</summary>
    public static Tensor Softplus(Tensor x) => Unary(UnaryOp.Softplus, x);
    /// <summary>tanh x.</summary>
    public static Tensor Tanh(Tensor x) => Unary(UnaryOp.Tanh, x);

    /// <summary>Applies a unary op elementwise.</summary>
    public static Tensor Unary(UnaryOp op, Tensor x)
    {
        using var xc = ContiguousNoGrad(x);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).Unary(op, xc, y);
        if (Tape.ShouldRecord(x))
        {
            var saved = xc.CreateViewSame();
            Tape.Record(op.ToString(), y, [x], g =>
            {
                using var gc = Contiguous(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                K(x).UnaryBackward(op, saved, gc, dx);
                return [dx];
            });
        }
        return y;
    }

    /// <summary>Sum of all elements, as a one-element tensor of shape [1].</summary>
    public static Tensor Sum(Tensor x)
    {
        using var flat = Reshape(x, -1);
        return SumToShape(flat, [1]);
    }

    /// <summary>Sum over dimension <paramref name="dim"/> (kept as size 1 when <paramref name="keepDim"/>).</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false)
    {
        int d = x.Dim(dim);
        int[] shape = x.Shape.ToArray();
        shape[d] = 1;
        var y = SumToShape(x, shape);
        if (keepDim) return y;
        var s = Squeeze(y, d);
        y.Dispose();
        return s;
    }

    /// <summary>Mean of all elements, shape [1].</summary>
    public static Tensor Mean(Tensor x)
    {
        using var s = Sum(x);
        return Scale(s, 1.0 / x.Count);
    }
}

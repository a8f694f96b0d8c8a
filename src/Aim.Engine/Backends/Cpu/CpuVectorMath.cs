// Vectorised float32 elementwise functions for the CPU kernels: one struct per op with a Vector512 and a
// Vector256 body, so a single generic loop (CpuKernels.Core.cs) serves every op at either width.
// Formulas are those of ReferenceKernels.UnaryScalar / UnaryDerivative; exp and log come from
// Vector512/Vector256.Exp and .Log (.NET 9+). tanh(x) = sign(x)·(1 − e)/(1 + e) with e = exp(−2|x|), and
// its odd Taylor series x − x³/3 + 2x⁵/15 − 17x⁷/315 below |x| = 1/16 where the quotient loses digits.
// Forms chosen to avoid cancellation: softplus = max(x, 0) + log1p(e^−|x|) with log1p(u) = u·ln(1+u)/((1+u)−1)
// (Goldberg, "What every computer scientist should know about floating-point arithmetic", 1991, thm. 4);
// σ'(x) = e/(1+e)² and tanh'(x) = 4e/(1+e)² with e = exp(−|x|) and exp(−2|x|); σ and 1−σ both from e.
using System.Runtime.Intrinsics;

namespace Aim.Engine.Backends.Cpu;

/// <summary>y = f(x) on one vector.</summary>
internal interface IVecUnary
{
    static abstract Vector512<float> Apply(Vector512<float> x);
    static abstract Vector256<float> Apply(Vector256<float> x);
}

/// <summary>dx = g · f'(x) on one vector.</summary>
internal interface IVecUnaryGrad
{
    static abstract Vector512<float> Apply(Vector512<float> x, Vector512<float> g);
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> g);
}

/// <summary>y = a (op) b on one vector.</summary>
internal interface IVecBinary
{
    static abstract Vector512<float> Apply(Vector512<float> a, Vector512<float> b);
    static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

internal static class CpuVectorMath
{
    private const float TaylorLimit = 0.0625f;

    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>(σ(x), 1 − σ(x)) from e = exp(−|x|), each without cancellation.</summary>
    public static (Vector512<float> S, Vector512<float> OneMinusS) SigmoidPair(Vector512<float> x)
    {
        var e = Vector512.Exp(-Vector512.Abs(x));
        var r = Vector512<float>.One / (Vector512<float>.One + e);
        var er = e * r;
        var pos = Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero);
        return (Vector512.ConditionalSelect(pos, r, er), Vector512.ConditionalSelect(pos, er, r));
    }

    /// <summary>(σ(x), 1 − σ(x)) from e = exp(−|x|), each without cancellation.</summary>
    public static (Vector256<float> S, Vector256<float> OneMinusS) SigmoidPair(Vector256<float> x)
    {
        var e = Vector256.Exp(-Vector256.Abs(x));
        var r = Vector256<float>.One / (Vector256<float>.One + e);
        var er = e * r;
        var pos = Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero);
        return (Vector256.ConditionalSelect(pos, r, er), Vector256.ConditionalSelect(pos, er, r));
    }

    /// <summary>ln(1 + u) for u ≥ 0 without losing the digits of small u.</summary>
    public static Vector512<float> Log1p(Vector512<float> u)
    {
        var w = Vector512<float>.One + u;
        var d = w - Vector512<float>.One;
        return Vector512.ConditionalSelect(Vector512.Equals(d, Vector512<float>.Zero), u, Vector512.Log(w) * (u / d));
    }

    /// <summary>ln(1 + u) for u ≥ 0 without losing the digits of small u.</summary>
    public static Vector256<float> Log1p(Vector256<float> u)
    {
        var w = Vector256<float>.One + u;
        var d = w - Vector256<float>.One;
        return Vector256.ConditionalSelect(Vector256.Equals(d, Vector256<float>.Zero), u, Vector256.Log(w) * (u / d));
    }

    /// <summary>1 − tanh²(x) = 4e/(1+e)² with e = exp(−2|x|).</summary>
    public static Vector512<float> TanhDerivative(Vector512<float> x)
    {
        var e = Vector512.Exp(Vector512.Abs(x) * -2f);
        var q = Vector512<float>.One + e;
        return Vector512.Create(4f) * e / (q * q);
    }

    /// <summary>1 − tanh²(x) = 4e/(1+e)² with e = exp(−2|x|).</summary>
    public static Vector256<float> TanhDerivative(Vector256<float> x)
    {
        var e = Vector256.Exp(Vector256.Abs(x) * -2f);
        var q = Vector256<float>.One + e;
        return Vector256.Create(4f) * e / (q * q);
    }

    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var e = Vector512.Exp(ax * -2f);
        var big = (Vector512<float>.One - e) / (Vector512<float>.One + e);
        var x2 = x * x;
        var series = ax * (Vector512<float>.One + x2 * (Vector512.Create(-1f / 3f) + x2 * (Vector512.Create(2f / 15f) + x2 * Vector512.Create(-17f / 315f))));
        var mag = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TaylorLimit)), series, big);
        return Vector512.CopySign(mag, x);
    }

    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var e = Vector256.Exp(ax * -2f);
        var big = (Vector256<float>.One - e) / (Vector256<float>.One + e);
        var x2 = x * x;
        var series = ax * (Vector256<float>.One + x2 * (Vector256.Create(-1f / 3f) + x2 * (Vector256.Create(2f / 15f) + x2 * Vector256.Create(-17f / 315f))));
        var mag = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TaylorLimit)), series, big);
        return Vector256.CopySign(mag, x);
    }
}

internal struct VNeg : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => -x;
    public static Vector256<float> Apply(Vector256<float> x) => -x;
}

internal struct VExp : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => Vector512.Exp(x);
    public static Vector256<float> Apply(Vector256<float> x) => Vector256.Exp(x);
}

internal struct VLog : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => Vector512.Log(x);
    public static Vector256<float> Apply(Vector256<float> x) => Vector256.Log(x);
}

internal struct VSqrt : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => Vector512.Sqrt(x);
    public static Vector256<float> Apply(Vector256<float> x) => Vector256.Sqrt(x);
}

internal struct VSquare : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => x * x;
    public static Vector256<float> Apply(Vector256<float> x) => x * x;
}

internal struct VSilu : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => x / (Vector512<float>.One + Vector512.Exp(-x));
    public static Vector256<float> Apply(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
}

internal struct VSigmoid : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => CpuVectorMath.Sigmoid(x);
    public static Vector256<float> Apply(Vector256<float> x) => CpuVectorMath.Sigmoid(x);
}

internal struct VSoftplus : IVecUnary
{
    // x above 20 passes through (the original's threshold); below, ln(1 + e^x) in its cancellation-free form.
    public static Vector512<float> Apply(Vector512<float> x)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(20f)), x,
            Vector512.Max(x, Vector512<float>.Zero) + CpuVectorMath.Log1p(Vector512.Exp(-Vector512.Abs(x))));
    public static Vector256<float> Apply(Vector256<float> x)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(20f)), x,
            Vector256.Max(x, Vector256<float>.Zero) + CpuVectorMath.Log1p(Vector256.Exp(-Vector256.Abs(x))));
}

internal struct VTanh : IVecUnary
{
    public static Vector512<float> Apply(Vector512<float> x) => CpuVectorMath.Tanh(x);
    public static Vector256<float> Apply(Vector256<float> x) => CpuVectorMath.Tanh(x);
}

internal struct GNeg : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g) => -g;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g) => -g;
}

internal struct GExp : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g) => g * Vector512.Exp(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g) => g * Vector256.Exp(x);
}

internal struct GLog : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g) => g * (Vector512<float>.One / x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g) => g * (Vector256<float>.One / x);
}

internal struct GSqrt : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g) => g * (Vector512<float>.One / (Vector512.Create(2f) * Vector512.Sqrt(x)));
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g) => g * (Vector256<float>.One / (Vector256.Create(2f) * Vector256.Sqrt(x)));
}

internal struct GSquare : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g) => g * (Vector512.Create(2f) * x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g) => g * (Vector256.Create(2f) * x);
}

internal struct GSilu : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
    {
        var (s, sm) = CpuVectorMath.SigmoidPair(x);
        return g * (s * (Vector512<float>.One + x * sm));
    }

    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
    {
        var (s, sm) = CpuVectorMath.SigmoidPair(x);
        return g * (s * (Vector256<float>.One + x * sm));
    }
}

internal struct GSigmoid : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
    {
        var (s, sm) = CpuVectorMath.SigmoidPair(x);
        return g * (s * sm);
    }

    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
    {
        var (s, sm) = CpuVectorMath.SigmoidPair(x);
        return g * (s * sm);
    }
}

internal struct GSoftplus : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
        => g * Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(20f)), Vector512<float>.One, CpuVectorMath.SigmoidPair(x).S);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
        => g * Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(20f)), Vector256<float>.One, CpuVectorMath.SigmoidPair(x).S);
}

internal struct GTanh : IVecUnaryGrad
{
    public static Vector512<float> Apply(Vector512<float> x, Vector512<float> g)
    {
        return g * CpuVectorMath.TanhDerivative(x);
    }

    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> g)
    {
        return g * CpuVectorMath.TanhDerivative(x);
    }
}

internal struct BAdd : IVecBinary
{
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a + b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
}

internal struct BSub : IVecBinary
{
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a - b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a - b;
}

internal struct BMul : IVecBinary
{
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a * b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
}

internal struct BDiv : IVecBinary
{
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a / b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a / b;
}

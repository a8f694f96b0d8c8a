namespace Aim.Engine.Kernels;

/// <summary>Binary elementwise operations (with broadcasting).</summary>
public enum BinaryOp
{
    Add,
    Sub,
    Mul,
    Div,
}

/// <summary>Unary elementwise operations.</summary>
public enum UnaryOp
{
    Neg,
    Exp,
    Log,
    Sqrt,
    Square,
    Silu,
    Sigmoid,
    /// <summary>ln(1 + e^x), returning x itself above 20 as the original's kernels do.</summary>
    Softplus,
    Tanh,
}

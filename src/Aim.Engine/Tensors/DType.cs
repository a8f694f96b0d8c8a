namespace Aim.Engine.Tensors;

/// <summary>Element types a tensor can hold.</summary>
/// <remarks>
/// Float64 exists for the reference kernels only: finite-difference gradient checks run in double.
/// BFloat16 is a storage type (weights and activations on GPU); CPU math is done in Float32.
/// </remarks>
public enum DType
{
    Float32,
    Float64,
    BFloat16,
    Int32,
    Int64,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.BFloat16 => 2,
        DType.Int32 => 4,
        DType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>True for the floating-point types.</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.Float32 or DType.Float64 or DType.BFloat16;

    /// <summary>Short lower-case name as PyTorch prints it (f32, bf16, ...).</summary>
    public static string ShortName(this DType dtype) => dtype switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        DType.BFloat16 => "bf16",
        DType.Int32 => "i32",
        DType.Int64 => "i64",
        _ => dtype.ToString(),
    };

    /// <summary>The DType for a managed element type.</summary>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(BFloat16)) return DType.BFloat16;
        if (typeof(T) == typeof(int)) return DType.Int32;
        if (typeof(T) == typeof(long)) return DType.Int64;
        throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}");
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>Argument checks shared by every backend; messages name the op and the shapes.</summary>
public static class KernelChecks
{
    /// <summary>Throws unless <paramref name="t"/> has exactly <paramref name="shape"/>.</summary>
    public static void Shape(string op, string name, Tensor t, params ReadOnlySpan<int> shape)
    {
        if (!t.Shape.SequenceEqual(shape))
            throw new ArgumentException($"{op}: {name} has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(shape)}");
    }

    /// <summary>Throws unless both tensors have the same shape.</summary>
    public static void SameShape(string op, Tensor a, Tensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shapes {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} differ");
    }

    /// <summary>Throws unless <paramref name="t"/> has rank <paramref name="rank"/>.</summary>
    public static void Rank(string op, string name, Tensor t, int rank)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: {name} must have {rank} dimensions, got shape {Tensor.ShapeString(t.Shape)}");
    }

    /// <summary>Throws unless contiguous.</summary>
    public static void Contiguous(string op, string name, Tensor t)
    {
        if (!t.IsContiguous)
            throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must be contiguous");
    }

    /// <summary>Throws unless <paramref name="t"/> has <paramref name="dtype"/>.</summary>
    public static void DType(string op, string name, Tensor t, Tensors.DType dtype)
    {
        if (t.DType != dtype)
            throw new ArgumentException($"{op}: {name} must be {dtype.ShortName()}, got {t.DType.ShortName()}");
    }

    /// <summary>Throws unless all tensors share one dtype.</summary>
    public static void SameDType(string op, params ReadOnlySpan<Tensor> ts)
    {
        for (int i = 1; i < ts.Length; i++)
            if (ts[i].DType != ts[0].DType)
                throw new ArgumentException($"{op}: dtypes {ts[0].DType.ShortName()} and {ts[i].DType.ShortName()} differ");
    }

    /// <summary>Throws unless the dtype is an index type (Int32 or Int64).</summary>
    public static void IndexType(string op, string name, Tensor t)
    {
        if (t.DType is not (Tensors.DType.Int32 or Tensors.DType.Int64))
            throw new ArgumentException($"{op}: {name} must be i32 or i64, got {t.DType.ShortName()}");
    }

    /// <summary>The exception a backend throws for a dtype it does not implement.</summary>
    public static NotSupportedException Unsupported(string op, string backend, Tensors.DType dtype)
        => new($"{op}: dtype {dtype.ShortName()} is not supported by the {backend} kernels");
}

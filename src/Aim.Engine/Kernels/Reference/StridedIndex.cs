using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

/// <summary>Maps a row-major linear index to an element offset in a strided view (reference kernels only: slow and plain).</summary>
internal static class StridedIndex
{
    /// <summary>Element offset (relative to DataPointer) of linear index <paramref name="linear"/> in <paramref name="t"/>.</summary>
    public static long Offset(Tensor t, long linear)
    {
        var shape = t.Shape;
        var strides = t.Strides;
        long offset = 0;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            long i = linear % shape[d];
            linear /= shape[d];
            offset += i * strides[d];
        }
        return offset;
    }
}

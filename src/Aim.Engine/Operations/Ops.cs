using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

/// <summary>
/// The eager front-end: each function checks its arguments, allocates the result, runs the kernel of the
/// inputs' device and, when an input requires a gradient, records its backward on the <see cref="Tape"/>.
/// Backward functions are written with other ops (so they run on any backend). One partial file per family.
/// </summary>
public static partial class Ops
{
    /// <summary>The kernels for a tensor's device.</summary>
    internal static IKernels K(Tensor t) => Backend.Kernels(t.Device);

    /// <summary>Throws unless every tensor is on the first one's device.</summary>
    internal static void SameDevice(string op, params ReadOnlySpan<Tensor> ts)
    {
        for (int i = 1; i < ts.Length; i++)
            if (ts[i].Device != ts[0].Device)
                throw new ArgumentException($"{op}: tensors on {ts[0].Device} and {ts[i].Device}");
    }

    /// <summary>A contiguous tensor with the same content: a new view when x already is contiguous, else a copy.</summary>
    public static Tensor Contiguous(Tensor x)
    {
        if (x.IsContiguous)
        {
            var v = x.CreateViewSame();
            if (Tape.ShouldRecord(x)) Tape.Record(nameof(Contiguous), v, [x], g => [g]);
            return v;
        }
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).Copy(x, y);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Contiguous), y, [x], g => [g]);
        return y;
    }

    /// <summary>Contiguous view or copy for feeding a kernel; never recorded (the caller records the op itself).</summary>
    internal static Tensor ContiguousNoGrad(Tensor x)
    {
        using (Tape.NoGrad()) return Contiguous(x);
    }

    /// <summary>A contiguous copy.</summary>
    public static Tensor Clone(Tensor x)
    {
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).Copy(x, y);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Clone), y, [x], g => [g]);
        return y;
    }

    /// <summary>Converts to <paramref name="dtype"/> (a contiguous copy; gradient flows back through the cast).</summary>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        var y = Tensor.Empty(x.Shape, dtype, x.Device);
        K(x).Copy(x, y);
        if (dtype.IsFloat() && Tape.ShouldRecord(x)) Tape.Record(nameof(Cast), y, [x], g => [Cast(g, x.DType)]);
        return y;
    }

    /// <summary>Writes <paramref name="source"/> into the (possibly strided) view <paramref name="destination"/>. Not differentiable.</summary>
    public static void CopyInto(Tensor source, Tensor destination)
    {
        if (source.Count != destination.Count)
            throw new ArgumentException($"CopyInto: source {Tensor.ShapeString(source.Shape)} and destination {Tensor.ShapeString(destination.Shape)} differ in size");
        SameDevice(nameof(CopyInto), source, destination);
        K(destination).Copy(source, destination);
    }
}

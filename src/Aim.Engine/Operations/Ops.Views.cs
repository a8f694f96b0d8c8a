using Aim.Engine.Autograd;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: differentiable views (Reshape, Transpose, Permute, Narrow, Select, Unsqueeze, Squeeze, Expand) and Concat.
public static partial class Ops
{
    /// <summary>
    /// Same elements in a new shape (one dimension may be -1). A view when the layout allows it (always for a
    /// contiguous x; for a strided x when every group of dimensions that is merged or split is contiguous within
    /// itself, e.g. splitting the last dimension of a column slice), else a copy.
    /// </summary>
    public static Tensor Reshape(Tensor x, params ReadOnlySpan<int> shape)
    {
        int[] s = ResolveShape(x, shape);
        long[]? strides = x.IsContiguous ? Tensor.ContiguousStrides(s) : ViewStrides(x.Shape, x.Strides, s);
        if (strides is null)
        {
            using var c = Contiguous(x);
            return Reshape(c, s);
        }
        var y = x.CreateView(s, strides, x.Offset);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Reshape), y, [x], g => [Reshape(g, x.Shape)]);
        return y;
    }

    /// <summary>
    /// Strides that present elements laid out as <paramref name="shape"/> / <paramref name="strides"/> in the shape
    /// <paramref name="target"/> (same count) without moving them, or null when that is impossible: the dimensions are
    /// matched in groups of equal products (old dims merged into new ones or split from them), and the old dims of a
    /// group must be contiguous among themselves (each stride = the next one times its size), the rule numpy and
    /// PyTorch use for a no-copy reshape. Size-1 dimensions carry no layout.
    /// </summary>
    internal static long[]? ViewStrides(ReadOnlySpan<int> shape, ReadOnlySpan<long> strides, ReadOnlySpan<int> target)
    {
        var oldShape = new List<int>();
        var oldStrides = new List<long>();
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            count *= shape[i];
            if (shape[i] == 1) continue;
            oldShape.Add(shape[i]);
            oldStrides.Add(strides[i]);
        }
        if (count == 0) return Tensor.ContiguousStrides(target);
        var result = new long[target.Length];
        var assigned = new bool[target.Length];
        int oi = 0, ni = 0;
        while (ni < target.Length)
        {
            if (target[ni] == 1)
            {
                ni++;
                continue;
            }
            // Grow new dims [ni, nj) and old dims [oi, oj) until their products agree.
            int nj = ni + 1, oj = oi + 1;
            long np = target[ni], op = oldShape[oi];
            while (np != op)
            {
                if (np < op) np *= target[nj++];
                else op *= oldShape[oj++];
            }
            for (int k = oi; k < oj - 1; k++)
                if (oldStrides[k] != oldShape[k + 1] * oldStrides[k + 1]) return null;
            long stride = oldStrides[oj - 1];
            for (int k = nj - 1; k >= ni; k--)
            {
                result[k] = stride;
                assigned[k] = true;
                stride *= target[k];
            }
            ni = nj;
            oi = oj;
        }
        for (int k = target.Length - 1; k >= 0; k--)          // size-1 dims outside any group: any stride works
            if (!assigned[k]) result[k] = k + 1 < target.Length ? result[k + 1] * target[k + 1] : 1;
        return result;
    }

    private static int[] ResolveShape(Tensor x, ReadOnlySpan<int> shape)
    {
        int[] s = shape.ToArray();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape: more than one -1 in {Tensor.ShapeString(shape)}");
                infer = i;
            }
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Count % known != 0)
                throw new ArgumentException($"Reshape: cannot view {Tensor.ShapeString(x.Shape)} as {Tensor.ShapeString(shape)}");
            s[infer] = (int)(x.Count / known);
        }
        if (Tensor.ElementCount(s) != x.Count)
            throw new ArgumentException($"Reshape: cannot view {Tensor.ShapeString(x.Shape)} ({x.Count} elements) as {Tensor.ShapeString(s)}");
        return s;
    }

    /// <summary>Swaps two dimensions (a strided view).</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        int a = x.Dim(dim0), b = x.Dim(dim1);
        var perm = new int[x.Rank];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(x, perm);
    }

    /// <summary>Reorders dimensions: output dim i is input dim perm[i] (a strided view).</summary>
    public static Tensor Permute(Tensor x, params ReadOnlySpan<int> perm)
    {
        if (perm.Length != x.Rank) throw new ArgumentException($"Permute: {perm.Length} axes for shape {Tensor.ShapeString(x.Shape)}");
        var shape = new int[x.Rank];
        var strides = new long[x.Rank];
        var inverse = new int[x.Rank];
        var seen = new bool[x.Rank];
        for (int i = 0; i < perm.Length; i++)
        {
            int d = x.Dim(perm[i]);
            if (seen[d]) throw new ArgumentException($"Permute: axis {d} repeated");
            seen[d] = true;
            shape[i] = x.Shape[d];
            strides[i] = x.Strides[d];
            inverse[d] = i;
        }
        var y = x.CreateView(shape, strides, x.Offset);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Permute), y, [x], g => [Permute(g, inverse)]);
        return y;
    }

    /// <summary>Elements [start, start+length) along <paramref name="dim"/> (a strided view).</summary>
    public static Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        int d = x.Dim(dim);
        if (start < 0 || length < 0 || start + length > x.Shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: [{start}, {start + length}) outside dimension {d} of {Tensor.ShapeString(x.Shape)}");
        int[] shape = x.Shape.ToArray();
        shape[d] = length;
        var y = x.CreateView(shape, x.Strides.ToArray(), x.Offset + start * x.Strides[d]);
        if (Tape.ShouldRecord(x)) Tape.RecordNarrow(y, x, d, start);
        return y;
    }

    /// <summary>Index <paramref name="index"/> of dimension <paramref name="dim"/>, which is removed (a view).</summary>
    public static Tensor Select(Tensor x, int dim, int index)
    {
        int d = x.Dim(dim);
        using var n = Narrow(x, d, index, 1);
        return Squeeze(n, d);
    }

    /// <summary>Inserts a size-1 dimension at <paramref name="dim"/>.</summary>
    public static Tensor Unsqueeze(Tensor x, int dim)
    {
        int d = dim < 0 ? dim + x.Rank + 1 : dim;
        if (d < 0 || d > x.Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"Unsqueeze: dimension {dim} for shape {Tensor.ShapeString(x.Shape)}");
        var shape = x.Shape.ToArray().ToList();
        var strides = x.Strides.ToArray().ToList();
        shape.Insert(d, 1);
        strides.Insert(d, d < x.Rank ? x.Strides[d] * x.Shape[d] : 1);
        var y = x.CreateView([.. shape], [.. strides], x.Offset);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Unsqueeze), y, [x], g => [Reshape(g, x.Shape)]);
        return y;
    }

    /// <summary>Removes dimension <paramref name="dim"/>, which must have size 1.</summary>
    public static Tensor Squeeze(Tensor x, int dim)
    {
        int d = x.Dim(dim);
        if (x.Shape[d] != 1) throw new ArgumentException($"Squeeze: dimension {d} of {Tensor.ShapeString(x.Shape)} is not 1");
        var shape = x.Shape.ToArray().ToList();
        var strides = x.Strides.ToArray().ToList();
        shape.RemoveAt(d);
        strides.RemoveAt(d);
        var y = x.CreateView([.. shape], [.. strides], x.Offset);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Squeeze), y, [x], g => [Reshape(g, x.Shape)]);
        return y;
    }

    /// <summary>Broadcasts to <paramref name="shape"/> (NumPy rules; stride 0 on broadcast dims). Gradient is summed back.</summary>
    public static Tensor Expand(Tensor x, params ReadOnlySpan<int> shape)
    {
        if (shape.Length < x.Rank) throw new ArgumentException($"Expand: cannot expand {Tensor.ShapeString(x.Shape)} to {Tensor.ShapeString(shape)}");
        var strides = new long[shape.Length];
        int lead = shape.Length - x.Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int s = x.Shape[i - lead];
            if (s == shape[i]) strides[i] = x.Strides[i - lead];
            else if (s == 1) strides[i] = 0;
            else throw new ArgumentException($"Expand: cannot expand {Tensor.ShapeString(x.Shape)} to {Tensor.ShapeString(shape)}");
        }
        var y = x.CreateView(shape.ToArray(), strides, x.Offset);
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(Expand), y, [x], g => [SumToShape(g, x.Shape)]);
        return y;
    }

    /// <summary>Sums <paramref name="x"/> down to <paramref name="shape"/> (the reverse of broadcasting).</summary>
    public static Tensor SumToShape(Tensor x, ReadOnlySpan<int> shape)
    {
        if (x.Shape.SequenceEqual(shape)) return Contiguous(x);
        int lead = x.Rank - shape.Length;
        if (lead < 0) throw new ArgumentException($"SumToShape: cannot sum {Tensor.ShapeString(x.Shape)} to {Tensor.ShapeString(shape)}");
        var keep = new int[x.Rank];
        for (int i = 0; i < x.Rank; i++) keep[i] = i < lead ? 1 : shape[i - lead];
        var y = Tensor.Empty(keep, x.DType, x.Device);
        K(x).SumTo(x, y);
        var result = Reshape(y, shape);
        y.Dispose();
        if (Tape.ShouldRecord(x)) Tape.Record(nameof(SumToShape), result, [x], g => [Contiguous(Expand(g, x.Shape))]);
        return result;
    }

    /// <summary>Joins tensors along <paramref name="dim"/>; all other dimensions must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> xs, int dim)
    {
        if (xs.Count == 0) throw new ArgumentException("Concat: no tensors");
        var first = xs[0];
        int d = first.Dim(dim);
        int total = 0;
        foreach (var x in xs)
        {
            if (x.Rank != first.Rank || x.DType != first.DType)
                throw new ArgumentException($"Concat: {x} does not match {first}");
            for (int i = 0; i < x.Rank; i++)
                if (i != d && x.Shape[i] != first.Shape[i])
                    throw new ArgumentException($"Concat: shapes {Tensor.ShapeString(first.Shape)} and {Tensor.ShapeString(x.Shape)} differ outside dimension {d}");
            total += x.Shape[d];
        }
        int[] shape = first.Shape.ToArray();
        shape[d] = total;
        var y = Tensor.Empty(shape, first.DType, first.Device);
        int at = 0;
        var starts = new int[xs.Count];
        for (int i = 0; i < xs.Count; i++)
        {
            starts[i] = at;
            using (Tape.NoGrad())
            using (var slot = Narrow(y, d, at, xs[i].Shape[d]))
                CopyInto(xs[i], slot);
            at += xs[i].Shape[d];
        }
        var inputs = xs.ToArray();
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record(nameof(Concat), y, inputs, g =>
            {
                var dx = new Tensor?[inputs.Length];
                for (int i = 0; i < inputs.Length; i++)
                {
                    using var part = Narrow(g, d, starts[i], inputs[i].Shape[d]);
                    dx[i] = Contiguous(part);
                }
                return dx;
            });
        }
        return y;
    }
}

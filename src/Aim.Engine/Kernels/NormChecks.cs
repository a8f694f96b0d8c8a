using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>
/// Argument checks for the row-wise kernels (norms, softmax, cross-entropy, embedding) shared by every
/// backend, and the index checks for id tensors. Messages name the op and the shapes or the bad id.
/// </summary>
public static unsafe class NormChecks
{
    /// <summary>
    /// Checks a row-wise kernel: <paramref name="x"/> is contiguous with rank ≥ 1, every tensor in
    /// <paramref name="sameAsX"/> (nulls skipped) has x's shape and dtype and is contiguous, every tensor in
    /// <paramref name="perChannel"/> (nulls skipped) is (D) of x's dtype. Returns D (x's last dimension).
    /// </summary>
    public static int Rows(string op, Tensor x, ReadOnlySpan<Tensor?> sameAsX, ReadOnlySpan<Tensor?> perChannel)
    {
        if (x.Rank < 1) throw new ArgumentException($"{op}: x must have at least one dimension, got a scalar");
        KernelChecks.Contiguous(op, "x", x);
        int d = x.Shape[^1];
        Operands(op, x, d, sameAsX, perChannel);
        return d;
    }

    /// <summary>Every tensor of <paramref name="sameAsX"/> has x's shape and dtype and is contiguous; every tensor of
    /// <paramref name="perChannel"/> is (D) of x's dtype and contiguous (null entries are skipped).</summary>
    private static void Operands(string op, Tensor x, int d, ReadOnlySpan<Tensor?> sameAsX, ReadOnlySpan<Tensor?> perChannel)
    {
        foreach (var t in sameAsX)
        {
            if (t is null) continue;
            if (!t.Shape.SequenceEqual(x.Shape))
                throw new ArgumentException($"{op}: tensor {Tensor.ShapeString(t.Shape)} must have x's shape {Tensor.ShapeString(x.Shape)}");
            KernelChecks.SameDType(op, x, t);
            KernelChecks.Contiguous(op, "operand", t);
        }
        foreach (var t in perChannel)
        {
            if (t is null) continue;
            if (t.Rank != 1 || t.Shape[0] != d)
                throw new ArgumentException($"{op}: per-channel tensor {Tensor.ShapeString(t.Shape)} must be ({d}) for x {Tensor.ShapeString(x.Shape)}");
            KernelChecks.SameDType(op, x, t);
            KernelChecks.Contiguous(op, "per-channel operand", t);
        }
    }

    /// <summary>
    /// Checks a gated RMSNorm call (<see cref="IKernels.GatedRmsNorm"/>, <see cref="IKernels.GatedRmsNormBackward"/>): x and z
    /// are row views (<see cref="RowStride"/>) of one shape and dtype, every tensor in <paramref name="sameAsX"/> has that shape
    /// and dtype and is contiguous, every tensor in <paramref name="perChannel"/> is (D), and groupSize divides D. Returns D and
    /// the row strides of x and z in elements.
    /// </summary>
    public static (int D, long Sx, long Sz) GatedRows(string op, Tensor x, Tensor z, int groupSize, ReadOnlySpan<Tensor?> sameAsX,
        ReadOnlySpan<Tensor?> perChannel)
    {
        if (x.Rank < 1) throw new ArgumentException($"{op}: x must have at least one dimension, got a scalar");
        if (!z.Shape.SequenceEqual(x.Shape))
            throw new ArgumentException($"{op}: z {Tensor.ShapeString(z.Shape)} must have x's shape {Tensor.ShapeString(x.Shape)}");
        KernelChecks.SameDType(op, x, z);
        long sx = RowStride(op, "x", x), sz = RowStride(op, "z", z);
        int d = x.Shape[^1];
        Operands(op, x, d, sameAsX, perChannel);
        GroupSize(op, d, groupSize);
        return (d, sx, sz);
    }

    /// <summary>
    /// Checks an output that may be a row view (<see cref="RowStride"/>): the gated backward's dZ, which the tape may hand
    /// out as a column block of in_proj's gradient (Tape.GradientSlot). It has x's shape and dtype. Returns its row stride.
    /// </summary>
    public static long OutputRows(string op, string name, Tensor t, Tensor x)
    {
        if (!t.Shape.SequenceEqual(x.Shape))
            throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must have x's shape {Tensor.ShapeString(x.Shape)}");
        KernelChecks.SameDType(op, x, t);
        return RowStride(op, name, t);
    }

    /// <summary>
    /// The row stride of a row view: a (..., D) tensor whose last dimension has unit stride and whose leading dimensions
    /// step through rows a fixed number of elements apart (they collapse into one dimension of rows), such as a Narrow of
    /// the last dimension of a contiguous tensor (Mamba's z, a column block of in_proj's output). Returns that distance in
    /// elements (D for a contiguous tensor or a single row); throws naming the op and the tensor otherwise.
    /// </summary>
    public static long RowStride(string op, string name, Tensor t)
    {
        if (t.Rank < 1) throw new ArgumentException($"{op}: {name} must have at least one dimension, got a scalar");
        if (TryRowStride(t, out long stride)) return stride;
        throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} (strides {StridesString(t)}) is not a row view: its last dimension must "
            + $"have unit stride and its leading dimensions must collapse into rows at least {t.Shape[^1]} elements apart");
    }

    /// <summary>True, with the row stride, when <paramref name="t"/> (rank ≥ 1) is a row view as <see cref="RowStride"/> defines it.</summary>
    public static bool TryRowStride(Tensor t, out long stride)
    {
        stride = 0;
        if (t.Rank < 1) return false;
        int d = t.Shape[^1];
        stride = d;
        if (t.IsContiguous) return true;
        if (d != 1 && t.Strides[^1] != 1) return false;
        long rowStride = 0, inner = 1;
        bool found = false;
        for (int i = t.Rank - 2; i >= 0; i--)
        {
            if (t.Shape[i] == 1) continue;
            if (!found) rowStride = t.Strides[i];
            else if (t.Strides[i] != rowStride * inner) return false;
            found = true;
            inner *= t.Shape[i];
        }
        if (!found) return true;                            // a single row
        if (rowStride < d) return false;
        stride = rowStride;
        return true;
    }

    private static string StridesString(Tensor t) => "(" + string.Join(", ", t.Strides.ToArray()) + ")";

    /// <summary>
    /// Checks a <see cref="IKernels.ModulatedAddRmsNorm"/> call: the (..., D) operands have hidden's shape and
    /// dtype and are contiguous, weight is (D), and neither output overlaps another operand, except that
    /// residualOut may be exactly residual's memory (the in-place update). Returns D.
    /// </summary>
    public static int Modulated(string op, Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, Tensor scalePlusOne, Tensor shift,
        Tensor normed, Tensor residualOut)
    {
        int d = Rows(op, hidden, [gate, residual, scalePlusOne, shift, normed, residualOut], [weight]);
        (string Name, Tensor? T)[] inputs =
            [("hidden", hidden), ("gate", gate), ("residual", residual), ("weight", weight), ("scalePlusOne", scalePlusOne), ("shift", shift)];
        foreach (var (name, t) in inputs)
        {
            if (t is null) continue;
            if (Overlaps(normed, t)) throw new ArgumentException($"{op}: normed overlaps {name}");
            bool inPlace = name == "residual" && residualOut.DataPointer == t.DataPointer;
            if (!inPlace && Overlaps(residualOut, t))
                throw new ArgumentException($"{op}: residualOut overlaps {name}; only residual may share its memory (exactly, in place)");
        }
        if (Overlaps(normed, residualOut)) throw new ArgumentException($"{op}: normed overlaps residualOut");
        return d;
    }

    // Whether two contiguous tensors share any byte (empty tensors share none).
    private static bool Overlaps(Tensor a, Tensor b)
    {
        if (a.Count == 0 || b.Count == 0) return false;
        long a0 = a.DataPointer, b0 = b.DataPointer;
        long a1 = a0 + a.Count * a.DType.SizeOf(), b1 = b0 + b.Count * b.DType.SizeOf();
        return a0 < b1 && b0 < a1;
    }

    /// <summary>Checks a group size for the gated RMSNorm: positive and dividing D.</summary>
    public static void GroupSize(string op, int d, int groupSize)
    {
        if (groupSize <= 0 || d % groupSize != 0)
            throw new ArgumentException($"{op}: groupSize {groupSize} must be positive and divide the last dimension {d}");
    }

    /// <summary>
    /// Checks a GroupNorm call: x (N, C, *spatial) contiguous, C % groups == 0, per-channel tensors (C),
    /// same-shape tensors as x. Returns (N, C, S) with S the product of the spatial dimensions.
    /// </summary>
    public static (int N, int C, long S) Groups(string op, Tensor x, int groups, ReadOnlySpan<Tensor?> sameAsX, ReadOnlySpan<Tensor?> perChannel)
    {
        if (x.Rank < 2) throw new ArgumentException($"{op}: x must be (N, C, *spatial), got {Tensor.ShapeString(x.Shape)}");
        KernelChecks.Contiguous(op, "x", x);
        int n = x.Shape[0], c = x.Shape[1];
        if (groups <= 0 || c % groups != 0)
            throw new ArgumentException($"{op}: {groups} groups do not divide {c} channels of x {Tensor.ShapeString(x.Shape)}");
        foreach (var t in sameAsX)
        {
            if (t is null) continue;
            if (!t.Shape.SequenceEqual(x.Shape))
                throw new ArgumentException($"{op}: tensor {Tensor.ShapeString(t.Shape)} must have x's shape {Tensor.ShapeString(x.Shape)}");
            KernelChecks.SameDType(op, x, t);
            KernelChecks.Contiguous(op, "operand", t);
        }
        foreach (var t in perChannel)
        {
            if (t is null) continue;
            if (t.Rank != 1 || t.Shape[0] != c)
                throw new ArgumentException($"{op}: per-channel tensor {Tensor.ShapeString(t.Shape)} must be ({c}) for x {Tensor.ShapeString(x.Shape)}");
            KernelChecks.SameDType(op, x, t);
            KernelChecks.Contiguous(op, "per-channel operand", t);
        }
        long s = n == 0 || c == 0 ? 0 : x.Count / ((long)n * c);
        return (n, c, s);
    }

    /// <summary>
    /// Checks cross-entropy operands: logits (N, V) contiguous float, targets (N) i32/i64 contiguous,
    /// and <paramref name="perLogit"/> (nulls skipped) of the logits' shape and dtype. Returns (N, V).
    /// </summary>
    public static (int N, int V) CrossEntropy(string op, Tensor logits, Tensor targets, ReadOnlySpan<Tensor?> perLogit)
    {
        KernelChecks.Rank(op, "logits", logits, 2);
        KernelChecks.Contiguous(op, "logits", logits);
        KernelChecks.IndexType(op, "targets", targets);
        KernelChecks.Contiguous(op, "targets", targets);
        if (targets.Rank != 1 || targets.Shape[0] != logits.Shape[0])
            throw new ArgumentException($"{op}: targets {Tensor.ShapeString(targets.Shape)} must be ({logits.Shape[0]}) for logits {Tensor.ShapeString(logits.Shape)}");
        foreach (var t in perLogit)
        {
            if (t is null) continue;
            KernelChecks.Shape(op, "gradient", t, logits.Shape);
            KernelChecks.SameDType(op, logits, t);
            KernelChecks.Contiguous(op, "gradient", t);
        }
        return (logits.Shape[0], logits.Shape[1]);
    }

    /// <summary>Reads element <paramref name="i"/> of a host i32 or i64 id tensor (contiguous).</summary>
    public static long ReadIndex(Tensor ids, long i)
        => ids.DType == DType.Int32 ? ((int*)ids.DataPointer)[i] : ((long*)ids.DataPointer)[i];

    /// <summary>Scans a host id tensor (contiguous) and throws on the first id outside [0, limit).</summary>
    public static void IndicesInRange(string op, string name, Tensor ids, long limit)
    {
        for (long i = 0; i < ids.Count; i++)
        {
            long id = ReadIndex(ids, i);
            if ((ulong)id >= (ulong)limit) throw BadIndex(op, name, id, i, limit);
        }
    }

    /// <summary>The error for an id outside [0, limit).</summary>
    public static ArgumentException BadIndex(string op, string name, long id, long position, long limit)
        => new($"{op}: {name} id {id} at position {position} is outside [0, {limit})");
}

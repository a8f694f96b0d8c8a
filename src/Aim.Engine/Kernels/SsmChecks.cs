using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>Argument checks of the Mamba-2 sequence kernels, shared by every backend (see IKernels.Ssm.cs).</summary>
internal static class SsmChecks
{
    /// <summary>Dimensions of a conv1d call.</summary>
    public readonly record struct ConvDims(int B, int L, int C, int K);

    /// <summary>Dimensions of a scan call.</summary>
    public readonly record struct ScanDims(int B, int L, int H, int P, int G, int N)
    {
        /// <summary>Heads per group.</summary>
        public int HeadsPerGroup => H / G;
    }

    /// <summary>Throws unless the last dimension of <paramref name="t"/> has unit stride (or size 1).</summary>
    public static void UnitLastStride(string op, string name, Tensor t)
    {
        if (t.Rank > 0 && t.Shape[^1] != 1 && t.Strides[^1] != 1)
            throw new ArgumentException($"{op}: {name} {Tensor.ShapeString(t.Shape)} must have unit stride in its last dimension (stride {t.Strides[^1]})");
    }

    /// <summary>
    /// An output that may be a view (the tape's gradient slot, Tape.GradientSlot): the given shape, <paramref name="like"/>'s
    /// dtype, unit stride in the last dimension.
    /// </summary>
    public static void OutputView(string op, string name, Tensor t, Tensor like, params ReadOnlySpan<int> shape)
    {
        KernelChecks.Shape(op, name, t, shape);
        UnitLastStride(op, name, t);
        KernelChecks.SameDType(op, like, t);
    }

    /// <summary>Float32 or Float64, all the same dtype.</summary>
    public static void Floats(string op, params ReadOnlySpan<Tensor?> ts)
    {
        Tensors.DType? first = null;
        foreach (var t in ts)
        {
            if (t is null) continue;
            if (t.DType is not (Tensors.DType.Float32 or Tensors.DType.Float64))
                throw new ArgumentException($"{op}: tensors must be f32 or f64, got {t.DType.ShortName()}");
            first ??= t.DType;
            if (t.DType != first)
                throw new ArgumentException($"{op}: dtypes {first.Value.ShortName()} and {t.DType.ShortName()} differ");
        }
    }

    /// <summary>Checks x (B, L, C), weight (C, K), bias (C) of a sequence conv.</summary>
    public static ConvDims Conv(string op, Tensor x, Tensor weight, Tensor? bias)
    {
        KernelChecks.Rank(op, "x", x, 3);
        KernelChecks.Rank(op, "weight", weight, 2);
        var dims = new ConvDims(x.Shape[0], x.Shape[1], x.Shape[2], weight.Shape[1]);
        if (weight.Shape[0] != dims.C || dims.K < 1)
            throw new ArgumentException($"{op}: weight {Tensor.ShapeString(weight.Shape)} does not match x {Tensor.ShapeString(x.Shape)}: expected (C={dims.C}, K)");
        if (bias is not null) KernelChecks.Shape(op, "bias", bias, dims.C);
        UnitLastStride(op, "x", x);
        KernelChecks.Contiguous(op, "weight", weight);
        if (bias is not null) KernelChecks.Contiguous(op, "bias", bias);
        Floats(op, x, weight, bias);
        return dims;
    }

    /// <summary>Checks x (B, L, H, P), dt (B, L, H), a (H), b/c (B, L, G, N), d (H), initialState (B, H, P, N).</summary>
    public static ScanDims Scan(string op, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState)
    {
        KernelChecks.Rank(op, "x", x, 4);
        KernelChecks.Rank(op, "b", b, 4);
        var s = new ScanDims(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], b.Shape[2], b.Shape[3]);
        KernelChecks.Shape(op, "dt", dt, s.B, s.L, s.H);
        KernelChecks.Shape(op, "a", a, s.H);
        KernelChecks.Shape(op, "b", b, s.B, s.L, s.G, s.N);
        KernelChecks.Shape(op, "c", c, s.B, s.L, s.G, s.N);
        if (d is not null) KernelChecks.Shape(op, "d", d, s.H);
        if (initialState is not null) KernelChecks.Shape(op, "initialState", initialState, s.B, s.H, s.P, s.N);
        if (s.G < 1 || s.H % s.G != 0)
            throw new ArgumentException($"{op}: {s.H} heads (x {Tensor.ShapeString(x.Shape)}) are not a multiple of {s.G} groups (b {Tensor.ShapeString(b.Shape)})");
        UnitLastStride(op, "x", x);
        UnitLastStride(op, "b", b);
        UnitLastStride(op, "c", c);
        KernelChecks.Contiguous(op, "dt", dt);
        KernelChecks.Contiguous(op, "a", a);
        if (d is not null) KernelChecks.Contiguous(op, "d", d);
        if (initialState is not null) KernelChecks.Contiguous(op, "initialState", initialState);
        Floats(op, x, dt, a, b, c, d, initialState);
        return s;
    }

    /// <summary>The number of chunks of length <paramref name="chunkSize"/> (&gt; 0) covering <paramref name="l"/> steps.</summary>
    public static int ChunkCount(int l, int chunkSize) => (int)(((long)l + chunkSize - 1) / chunkSize);

    /// <summary>
    /// Checks the chunk states of a scan: (B, H, nc, P, N) with nc = ⌈L / chunkSize⌉, contiguous, the dtype of
    /// <paramref name="x"/>, and chunkSize &gt; 0.
    /// </summary>
    public static void ChunkStates(string op, ScanDims s, Tensor x, Tensor chunkStates, int chunkSize)
    {
        if (chunkSize < 1) throw new ArgumentException($"{op}: the chunk size of chunkStates must be positive, got {chunkSize}");
        KernelChecks.Shape(op, "chunkStates", chunkStates, s.B, s.H, ChunkCount(s.L, chunkSize), s.P, s.N);
        KernelChecks.Contiguous(op, "chunkStates", chunkStates);
        KernelChecks.SameDType(op, x, chunkStates);
    }

    /// <summary>Checks the single-step scan arguments; returns dims with L = 1.</summary>
    public static ScanDims Step(string op, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? dtBias)
    {
        KernelChecks.Rank(op, "state", state, 4);
        var s = new ScanDims(state.Shape[0], 1, state.Shape[1], state.Shape[2], b.Rank == 3 ? b.Shape[1] : 0, state.Shape[3]);
        KernelChecks.Shape(op, "x", x, s.B, s.H, s.P);
        KernelChecks.Shape(op, "dt", dt, s.B, s.H);
        KernelChecks.Shape(op, "a", a, s.H);
        KernelChecks.Shape(op, "b", b, s.B, s.G, s.N);
        KernelChecks.Shape(op, "c", c, s.B, s.G, s.N);
        if (d is not null) KernelChecks.Shape(op, "d", d, s.H);
        if (dtBias is not null) KernelChecks.Shape(op, "dtBias", dtBias, s.H);
        if (s.G < 1 || s.H % s.G != 0)
            throw new ArgumentException($"{op}: {s.H} heads (state {Tensor.ShapeString(state.Shape)}) are not a multiple of {s.G} groups (b {Tensor.ShapeString(b.Shape)})");
        KernelChecks.Contiguous(op, "state", state);
        UnitLastStride(op, "x", x);
        UnitLastStride(op, "b", b);
        UnitLastStride(op, "c", c);
        UnitLastStride(op, "dt", dt);
        KernelChecks.Contiguous(op, "a", a);
        if (d is not null) KernelChecks.Contiguous(op, "d", d);
        if (dtBias is not null) KernelChecks.Contiguous(op, "dtBias", dtBias);
        Floats(op, state, x, dt, a, b, c, d, dtBias);
        return s;
    }
}

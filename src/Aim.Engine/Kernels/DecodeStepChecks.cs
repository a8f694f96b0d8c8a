using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the argument checks of ConvSsmStep (IKernels.DecodeStep.cs), shared by every backend, and its definition
// as the composition of a backend's own CausalConv1dStep and SsmStep (used by the reference, the CPU and CUDA).

/// <summary>Argument checks of ConvSsmStep and its composition, shared by every backend (see IKernels.DecodeStep.cs).</summary>
internal static class DecodeStepChecks
{
    /// <summary>Dimensions of a ConvSsmStep call: C = H·P + 2·G·N conv channels of K taps.</summary>
    public readonly record struct ConvSsmDims(int B, int C, int K, int H, int P, int G, int N)
    {
        /// <summary>Heads per group.</summary>
        public int HeadsPerGroup => H / G;
    }

    /// <summary>Checks every input of ConvSsmStep (the output y is checked by the caller); returns the dimensions.</summary>
    public static ConvSsmDims ConvSsm(string op, Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias,
        Tensor ssmState, Tensor dt, Tensor dtBias, Tensor a, Tensor? d)
    {
        KernelChecks.Rank(op, "convState", convState, 3);
        KernelChecks.Rank(op, "ssmState", ssmState, 4);
        int bsz = convState.Shape[0], ch = convState.Shape[1], k = convState.Shape[2];
        int h = ssmState.Shape[1], p = ssmState.Shape[2], n = ssmState.Shape[3];
        if (ssmState.Shape[0] != bsz)
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} and ssmState {Tensor.ShapeString(ssmState.Shape)} disagree on the batch size");
        if (k < 1)
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} needs at least one tap (K ≥ 1)");
        long bc = (long)ch - (long)h * p;
        int g = n > 0 && bc > 0 && bc % (2L * n) == 0 ? (int)(bc / (2L * n)) : 0;
        if (g < 1 || h % g != 0)
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} has C = {ch} channels, which is not H·P + 2·G·N "
                + $"for ssmState {Tensor.ShapeString(ssmState.Shape)} (H={h}, P={p}, N={n}) with G ≥ 1 groups dividing H");
        KernelChecks.Shape(op, "xbc", xbc, bsz, ch);
        KernelChecks.Shape(op, "convWeight", convWeight, ch, k);
        if (convBias is not null) KernelChecks.Shape(op, "convBias", convBias, ch);
        KernelChecks.Shape(op, "dt", dt, bsz, h);
        KernelChecks.Shape(op, "dtBias", dtBias, h);
        KernelChecks.Shape(op, "a", a, h);
        if (d is not null) KernelChecks.Shape(op, "d", d, h);
        KernelChecks.Contiguous(op, "convState", convState);
        KernelChecks.Contiguous(op, "ssmState", ssmState);
        KernelChecks.Contiguous(op, "convWeight", convWeight);
        if (convBias is not null) KernelChecks.Contiguous(op, "convBias", convBias);
        KernelChecks.Contiguous(op, "dtBias", dtBias);
        KernelChecks.Contiguous(op, "a", a);
        if (d is not null) KernelChecks.Contiguous(op, "d", d);
        SsmChecks.UnitLastStride(op, "xbc", xbc);
        SsmChecks.UnitLastStride(op, "dt", dt);
        SsmChecks.Floats(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        return new ConvSsmDims(bsz, ch, k, h, p, g, n);
    }

    /// <summary>
    /// The definition on <paramref name="kernels"/>: CausalConv1dStep with SiLU into a (B, C) temporary whose views
    /// x (B, H, P), b (B, G, N), c (B, G, N) feed SsmStep with the dt bias (split as in Mamba2Mixer.Step).
    /// </summary>
    public static void Compose(IKernels kernels, ConvSsmDims s, Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias,
        Tensor ssmState, Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        if (s.B == 0) return;
        using var conv = TensorScope.Detach(Tensor.Empty([s.B, s.C], xbc.DType, xbc.Device));      // (B, C)
        kernels.CausalConv1dStep(convState, xbc, convWeight, convBias, true, conv);
        long hp = (long)s.H * s.P, gn = (long)s.G * s.N;
        using var x = conv.CreateView([s.B, s.H, s.P], [s.C, s.P, 1], conv.Offset);            // conv[:, :H·P]
        using var bm = conv.CreateView([s.B, s.G, s.N], [s.C, s.N, 1], conv.Offset + hp);      // conv[:, H·P : H·P+G·N]
        using var cm = conv.CreateView([s.B, s.G, s.N], [s.C, s.N, 1], conv.Offset + hp + gn); // conv[:, H·P+G·N :]
        kernels.SsmStep(ssmState, x, dt, a, bm, cm, d, y, dtBias);
    }
}

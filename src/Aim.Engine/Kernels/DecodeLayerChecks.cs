using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the argument checks of MambaDecodeLayer (IKernels.DecodeLayer.cs), shared by every backend, and its
// definition as the composition of a backend's own ModulatedAddRmsNorm, Gemm, ConvSsmStep and GatedRmsNormMatMul
// (used by the reference, by the CPU and by CUDA).
internal static class DecodeLayerChecks
{
    /// <summary>
    /// Dimensions of a MambaDecodeLayer call: R rows of width D; E = H·P inner channels; C = E + 2·G·N conv channels of
    /// K taps; in_proj has E + C + H output columns.
    /// </summary>
    public readonly record struct Dims(int R, int D, int E, int C, int K, int H, int P, int G, int N)
    {
        /// <summary>in_proj's output width: z | xBC | dt.</summary>
        public int InProjDim => E + C + H;
    }

    /// <summary>Checks every operand of MambaDecodeLayer, the outputs included; returns the dimensions.</summary>
    public static Dims Check(string op, Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, Tensor scalePlusOne, Tensor shift,
        Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        KernelChecks.Rank(op, "hidden", hidden, 2);
        KernelChecks.Rank(op, "inProj", inProj, 2);
        KernelChecks.Rank(op, "convState", convState, 3);
        KernelChecks.Rank(op, "ssmState", ssmState, 4);
        int r = hidden.Shape[0], dm = hidden.Shape[1];
        int ch = convState.Shape[1], k = convState.Shape[2];
        int h = ssmState.Shape[1], p = ssmState.Shape[2], n = ssmState.Shape[3];
        long e = (long)h * p;
        if (convState.Shape[0] != r || ssmState.Shape[0] != r)
            throw new ArgumentException($"{op}: hidden {Tensor.ShapeString(hidden.Shape)}, convState {Tensor.ShapeString(convState.Shape)} and "
                + $"ssmState {Tensor.ShapeString(ssmState.Shape)} disagree on the number of rows");
        if (e > int.MaxValue || inProj.Shape[0] != e + ch + h || inProj.Shape[1] != dm)
            throw new ArgumentException($"{op}: inProj {Tensor.ShapeString(inProj.Shape)} must be (E + C + H, d) = ({e} + {ch} + {h}, {dm}) "
                + $"for hidden {Tensor.ShapeString(hidden.Shape)}, convState {Tensor.ShapeString(convState.Shape)}, ssmState {Tensor.ShapeString(ssmState.Shape)}");
        KernelChecks.Shape(op, "outProj", outProj, dm, (int)e);
        KernelChecks.Shape(op, "gatedNormWeight", gatedNormWeight, (int)e);
        NormChecks.GroupSize(op, (int)e, groupSize);
        KernelChecks.Shape(op, "y", y, r, dm);
        KernelChecks.Contiguous(op, "y", y);
        KernelChecks.Contiguous(op, "inProj", inProj);
        KernelChecks.Contiguous(op, "outProj", outProj);
        KernelChecks.Contiguous(op, "gatedNormWeight", gatedNormWeight);
        SsmChecks.Floats(op, hidden, gatedNormWeight, y);
        KernelChecks.SameDType(op, hidden, y);
        foreach (var (name, w) in new[] { ("inProj", inProj), ("outProj", outProj) })
            if (w.DType != hidden.DType && !(w.DType == DType.BFloat16 && hidden.DType == DType.Float32))
                throw new ArgumentException($"{op}: {name} is {w.DType.ShortName()}, expected {hidden.DType.ShortName()} (or bf16 with f32 activations)");
        // The norm's operands as ModulatedAddRmsNorm checks them; the conv/SSM step's as ConvSsmStep checks them, with
        // views of convState standing in for xbc (R, C) and dt (R, H) (unit last stride, in bounds: C ≥ H·P ≥ H, K ≥ 1).
        NormChecks.Rows(op, hidden, [gate, residual, scalePlusOne, shift, residualOut], [normWeight]);
        if (k < 1 || p < 1)
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} and ssmState {Tensor.ShapeString(ssmState.Shape)} need K ≥ 1 and P ≥ 1");
        using var xbc = convState.CreateView([r, ch], [(long)ch * k, 1], convState.Offset);
        using var dt = convState.CreateView([r, h], [(long)ch * k, 1], convState.Offset);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        return new Dims(r, dm, (int)e, ch, k, h, p, s.G, n);
    }

    /// <summary>
    /// The definition on <paramref name="kernels"/>: ModulatedAddRmsNorm into an (R, d) temporary, Gemm into the
    /// (R, E + C + H) in_proj output, ConvSsmStep on its xBC and dt column blocks into an (R, H, P) temporary, then
    /// GatedRmsNormMatMul with its z column block, exactly as DecodeSession.Step and Mamba2Mixer.Step call them.
    /// </summary>
    public static void Compose(IKernels kernels, Dims s, Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps,
        Tensor scalePlusOne, Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dtBias, Tensor a, Tensor? d, Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        if (s.R == 0) return;
        var dtype = hidden.DType;
        int dp = s.InProjDim;
        using var u = TensorScope.Detach(Tensor.Empty([s.R, s.D], dtype, hidden.Device));          // (R, d)
        kernels.ModulatedAddRmsNorm(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, u, residualOut);
        using var zxbcdt = TensorScope.Detach(Tensor.Empty([s.R, dp], dtype, hidden.Device));      // (R, E + C + H)
        using (var ga = u.CreateView([1, s.R, s.D], [(long)s.R * s.D, s.D, 1], u.Offset))                  // (1, R, d)
        using (var gb = inProj.CreateView([1, dp, s.D], [(long)dp * s.D, s.D, 1], inProj.Offset))          // (1, E+C+H, d)
        using (var gc = zxbcdt.CreateView([1, s.R, dp], [(long)s.R * dp, dp, 1], zxbcdt.Offset))           // (1, R, E+C+H)
            kernels.Gemm(ga, gb, gc, false, true, 1.0, 0.0);
        using var z = zxbcdt.CreateView([s.R, s.E], [dp, 1], zxbcdt.Offset);                        // zxbcdt[:, :E]
        using var xbc = zxbcdt.CreateView([s.R, s.C], [dp, 1], zxbcdt.Offset + s.E);                // zxbcdt[:, E : E+C]
        using var dt = zxbcdt.CreateView([s.R, s.H], [dp, 1], zxbcdt.Offset + s.E + s.C);           // zxbcdt[:, E+C :]
        using var ys = TensorScope.Detach(Tensor.Empty([s.R, s.H, s.P], dtype, hidden.Device));    // (R, H, P)
        kernels.ConvSsmStep(convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, ys);
        using var ys2 = ys.CreateView([s.R, s.E], [s.E, 1], ys.Offset);                             // (R, E)
        kernels.GatedRmsNormMatMul(ys2, z, gatedNormWeight, gatedNormEps, groupSize, outProj, y);
    }
}

// MambaDecodeLayer (IKernels.DecodeLayer.cs) on CUDA. With bf16 projections, float32 operands, at most SkinnyRowLimit
// rows (Gemm.cs), one gated-norm group over the row and at most STEP_MAX_K conv taps (AiM's decode), four kernels whose
// epilogues absorb two of the composition's six:
//   1. mod_add_rms_norm_f32                u = RMSNorm(residual + gate·hidden)·(1 + scale) + shift
//   2. skinny_gemm_conv_k<K>_bf16 (in_proj) z | dt stored; each xBC column goes straight into its conv step
//   3. ssm_step_gated_f32                  the SSM step, writing g = y·silu(z)
//   4. skinny_gemm_rownorm_bf16 (out_proj) (g·w)·out_projᵀ and Σ g² in one stream, scaled by rstd = 1/sqrt(Σ g²/E + eps)
// (the composition launches conv1d_step_k<K>_f32 and rms_norm_f32 between them). The states and z | dt get the same bits
// as in the composition; only the gated norm's rounding differs (rstd multiplies the dot products instead of every
// element before them; Σ g² is added in the product's order). Above SkinnyRowLimit rows the same conditions give the
// cuBLAS form (BlasDecodeLayer: six kernels, the norms writing the products' bf16 activations). Anything else runs the composition
// DecodeLayerChecks.Compose over this backend's ops: ModulatedAddRmsNorm, in_proj through Gemm, ConvSsmStep as
// CausalConv1dStep + SsmStep, and GatedRmsNormMatMul as GatedRmsNorm + out_proj through Gemm. (A persistent
// one-launch-per-layer kernel, and fused conv+SSM and norm+out_proj kernels that recomputed shared work in every block,
// were measured slower on the H200 and deleted: NOTES.md.)
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps, Tensor scalePlusOne,
        Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        const string op = nameof(MambaDecodeLayer);
        OnDeviceAll(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias, ssmState, dtBias, a, d,
            gatedNormWeight, outProj, y, residualOut);
        var s = DecodeLayerChecks.Check(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias,
            ssmState, dtBias, a, d, gatedNormWeight, groupSize, outProj, y, residualOut);
        F32(op, hidden);
        if (s.R == 0) return;
        if (DecodeLayerFused && groupSize == s.E && s.K <= StepMaxTaps && inProj.DType == DType.BFloat16 && outProj.DType == DType.BFloat16
            && new[] { convState, convWeight, convBias, ssmState, dtBias, a, d, gatedNormWeight }.All(t => t is null || t.DType == DType.Float32))
        {
            if (s.R <= SkinnyRowLimit)
            {
                using var u = TensorScope.Detach(Tensor.Empty([s.R, s.D], DType.Float32, hidden.Device));            // (R, d)
                ModulatedAddRmsNorm(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, u, residualOut);
                FusedDecodeMixer(s, u, inProj, convState, convWeight, convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, outProj, y);
                return;
            }
            if (s.R <= BlasDecodeMaxRows)
            {
                BlasDecodeLayer(s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj, convState, convWeight, convBias,
                    ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, outProj, y, residualOut);
                return;
            }
        }
        DecodeLayerChecks.Compose(this, s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj, convState, convWeight,
            convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, groupSize, outProj, y, residualOut);
    }

    /// <summary>
    /// Whether MambaDecodeLayer takes its four-kernel or cuBLAS form where they apply (default); false runs the
    /// composition everywhere, for comparisons (Aim.Cuda.Check --decode-perf).
    /// </summary>
    internal bool DecodeLayerFused { get; set; } = true;

    // The most rows the cuBLAS form takes. H200, AiM-B bf16, a step's 24 layers against the composition, µs: 8 rows 557 /
    // 622, 16 652 / 724, 32 835 / 901, 128 1939 / 1953, but 512 6402 / 6202 (NOTES.md, session 10).
    private const int BlasDecodeMaxRows = 128;

    // The cuBLAS form, above SkinnyRowLimit rows up to BlasDecodeMaxRows: six kernels where the composition launches
    // eight, since the norms write the products' bf16 activations themselves (the composition's f32 outputs and casts
    // give the same bits, up to the gated norm's Σ g² order) and the SSM step applies the gate (ssm_step_gated_f32, as
    // kernel 3 of the four form). Its norms prefetching the products' weights into L2 was measured and dropped (NOTES.md):
    //   mod_add_rms_norm_f32_bf16 → cuBLAS in_proj → conv1d_step_k<K>_f32 → ssm_step_gated_f32 → mod_add_rms_norm_f32_bf16
    //   (the gated norm of g: no residual, no modulation) → cuBLAS out_proj.
    private void BlasDecodeLayer(DecodeLayerChecks.Dims s, Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps,
        Tensor scalePlusOne, Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias,
        Tensor a, Tensor? d, Tensor gatedNormWeight, double gatedNormEps, Tensor outProj, Tensor y, Tensor residualOut)
    {
        var dev = hidden.Device;
        int dp = s.InProjDim;
        using var u = TensorScope.Detach(Tensor.Empty([s.R, s.D], DType.BFloat16, dev));              // (R, d) normed, bf16
        LaunchModulatedAddRmsNorm(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, s.D, s.R, u, residualOut);
        using var zxbcdt = TensorScope.Detach(Tensor.Empty([s.R, dp], DType.Float32, dev));           // (R, E + C + H)
        RowProduct(u, inProj, zxbcdt);
        using var conv = TensorScope.Detach(Tensor.Empty([s.R, s.C], DType.Float32, dev));            // (R, C) conv outputs: x | b | c
        using (var xbc = zxbcdt.CreateView([s.R, s.C], [dp, 1], zxbcdt.Offset + s.E))                  // zxbcdt[:, E : E + C]
            CausalConv1dStep(convState, xbc, convWeight, convBias, true, conv);
        using var g = TensorScope.Detach(Tensor.Empty([s.R, s.E], DType.Float32, dev));               // (R, E) y·silu(z)
        GatedSsmStep(s, zxbcdt, conv, ssmState, dtBias, a, d, g);
        using var gNormed = TensorScope.Detach(Tensor.Empty([s.R, s.E], DType.BFloat16, dev));        // (R, E) gated norm, bf16
        LaunchModulatedAddRmsNorm(g, null, null, gatedNormWeight, gatedNormEps, null, null, s.E, s.R, gNormed, null);
        RowProduct(gNormed, outProj, y);
    }

    // ssm_step_gated_f32 on the conv outputs' x | b | c column blocks with in_proj's dt and z: g (R, E) = y·silu(z), the
    // state updated in place. zxbcdt (R, E + C + H) is in_proj's output, conv (R, C) the conv step's.
    private void GatedSsmStep(DecodeLayerChecks.Dims s, Tensor zxbcdt, Tensor conv, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d, Tensor g)
    {
        int dp = s.InProjDim, gn = s.G * s.N;
        using var x = conv.CreateView([s.R, s.H, s.P], [s.C, s.P, 1], conv.Offset);                 // conv[:, :E]
        using var bm = conv.CreateView([s.R, s.G, s.N], [s.C, s.N, 1], conv.Offset + s.E);          // conv[:, E : E + G·N]
        using var cm = conv.CreateView([s.R, s.G, s.N], [s.C, s.N, 1], conv.Offset + s.E + gn);     // conv[:, E + G·N :]
        using var dt = zxbcdt.CreateView([s.R, s.H], [dp, 1], zxbcdt.Offset + s.E + s.C);           // zxbcdt[:, E + C :]
        using var z = zxbcdt.CreateView([s.R, s.E], [dp, 1], zxbcdt.Offset);                        // zxbcdt[:, :E]
        LaunchSsmStep(s.R, s.H, s.G, s.P, s.N, ssmState, x, dt, dtBias, a, bm, cm, d, g, z);
    }

    // c (R, N) f32 = x (R, K) bf16 · w (N, K)ᵀ bf16 through Gemm (cuBLAS, f32 accumulation); all three contiguous.
    private void RowProduct(Tensor x, Tensor w, Tensor c)
    {
        int r = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        using var a3 = x.CreateView([1, r, k], [(long)r * k, k, 1], x.Offset);
        using var b3 = w.CreateView([1, n, k], [(long)n * k, k, 1], w.Offset);
        using var c3 = c.CreateView([1, r, n], [(long)r * n, n, 1], c.Offset);
        Gemm(a3, b3, c3, false, true, 1.0, 0.0);
    }

    // decode_step.cuh's STEP_MAX_K: skinny_gemm_conv_k<K>_bf16 exists for K = 1 .. 8.
    private const int StepMaxTaps = 8;

    // Kernels 2-4 of the file comment: u (R, d) → y (R, d), both states updated in place.
    private void FusedDecodeMixer(DecodeLayerChecks.Dims s, Tensor u, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias,
        Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d, Tensor gatedNormWeight, double gatedNormEps, Tensor outProj, Tensor y)
    {
        var dev = u.Device;
        int dp = s.InProjDim;
        using var zxbcdt = TensorScope.Detach(Tensor.Empty([s.R, dp], DType.Float32, dev));   // (R, E + C + H): z and dt columns only
        using var conv = TensorScope.Detach(Tensor.Empty([s.R, s.C], DType.Float32, dev));    // (R, C) conv outputs: x | b | c
        using var g = TensorScope.Detach(Tensor.Empty([s.R, s.E], DType.Float32, dev));       // (R, E) y·silu(z)

        // 2. in_proj with the conv step in its epilogue.
        var k2 = new KernelArgs(stackalloc byte[160], stackalloc nint[20]);
        int split2 = AddSkinnyOperands(ref k2, u, s.D, inProj, zxbcdt, dp, s.R, dp, s.D, null, 1);   // one column a warp (skinny_gemm.cu)
        k2.Add(s.E);
        k2.Add(s.C);
        k2.Add(Ptr(convState));
        k2.Add(Ptr(convWeight));
        k2.Add(PtrOrNull(convBias));
        k2.Add(Ptr(conv));
        Launch(Function("skinny_gemm.cu", "skinny_gemm_conv_k" + s.K + "_bf16"), SkinnyGrid(dp, split2), SkinnyWarps * 32, 0, k2);

        // 3. The SSM step on the conv outputs' x | b | c column blocks, gated by z.
        GatedSsmStep(s, zxbcdt, conv, ssmState, dtBias, a, d, g);

        // 4. The gated norm's weight and row factor with out_proj.
        var k4 = new KernelArgs(stackalloc byte[160], stackalloc nint[20]);
        int split4 = AddSkinnyOperands(ref k4, g, s.E, outProj, y, s.D, s.R, s.D, s.E, gatedNormWeight, 1);   // the gated form: one column a warp
        k4.Add(Ptr(gatedNormWeight));
        k4.Add((float)gatedNormEps);
        Launch(Function("skinny_gemm.cu", "skinny_gemm_rownorm_bf16"), SkinnyGrid(s.D, split4), SkinnyWarps * 32, 0, k4);
    }

    // The arguments skinny_gemm.cu's decode-layer kernels share: x (rows × k, row stride sxm), W (n × k, contiguous
    // bf16), y (row stride sym), M, N, K, vec, split for `cols` columns a warp; gate, when given, is read 8 floats at a
    // time too. Returns the split.
    private int AddSkinnyOperands(ref KernelArgs args, Tensor x, long sxm, Tensor w, Tensor y, long sym, int m, int n, int k, Tensor? gate,
        int cols)
    {
        bool vec = k % 8 == 0 && sxm % 4 == 0 && Ptr(x) % 16 == 0 && Ptr(w) % 16 == 0 && (gate is null || Ptr(gate) % 16 == 0);
        int split = SkinnySplit((n + cols - 1) / cols, k);
        args.Add(Ptr(x));
        args.Add(sxm);
        args.Add(Ptr(w));
        args.Add((long)k);
        args.Add(Ptr(y));
        args.Add(sym);
        args.Add(m);
        args.Add(n);
        args.Add(k);
        args.Add(vec ? 1 : 0);
        args.Add(split);
        return split;
    }
}

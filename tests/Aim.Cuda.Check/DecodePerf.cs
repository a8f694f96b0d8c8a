// Where a decode step's time goes on the GPU: every kernel of one AiM-B layer step (and the once-per-step head and
// sampler) timed inside a CUDA graph of 20 back-to-back launches, as the recorded decode runs them, at the row
// counts of batch 1, 2, 4, 8, 16, 64 and 256 with CFG; and a step's 24 layers with their own weights and states (as a decode
// streams them from HBM), which is what the step's sum counts. Rows with 0 calls per step time alternatives of a row above (SsmStep's
// launch plans) for tuning; they are not in the sum. Each figure sits next to its bandwidth floor (bytes / measured copy rate).
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>Per-kernel decode-step timings at AiM-B shapes.</summary>
internal static class DecodePerf
{
    private const int Launches = 20;

    // work with a setting forced to value (get and set reach it), restored afterwards even when work throws.
    private static Action Forced<T>(Func<T> get, Action<T> set, T value, Action work) => () =>
    {
        T saved = get();
        set(value);
        try
        {
            work();
        }
        finally
        {
            set(saved);
        }
    };

    public static void Run(CudaBackend backend, double bandwidthGBs = 4000)
    {
        var dev = backend.Device;
        const int d = 768, e = 1536, h = 24, p = 64, n = 128, k = 4, v = 16384;
        const int c = e + 2 * n, inProj = 2 * e + 2 * n + h;
        Console.WriteLine();
        Console.WriteLine($"decode-step kernels, AiM-B shapes, {Launches} launches per graph (floor at {bandwidthGBs:F0} GB/s)");
        Console.WriteLine($"{"kernel",-40} | {"rows",4} | {"us/call",8} | {"floor us",8} | {"calls/step",10}");
        foreach (int rows in new[] { 2, 4, 8, 16, 32, 128, 512 })
        {
            using var scope = TensorScope.Open();
            using var noGrad = Tape.NoGrad();
            var rng = new Rng(77);
            Tensor F(params int[] shape) => rng.Normal(shape).To(dev);
            var hidden = F(rows, d);
            var gate = F(rows, d);
            var residual = F(rows, d);
            var normW = F(d);
            var normE = F(e);
            var inWf = F(inProj, d);
            var outWf = F(d, e);
            var inW = Ops.Cast(inWf, DType.BFloat16);
            var outW = Ops.Cast(outWf, DType.BFloat16);
            var head = Ops.Cast(F(v, d), DType.BFloat16);
            var zxbcdt = F(rows, inProj);
            var convState = F(rows, c, k);
            var convW = F(c, k);
            var convB = F(c);
            var ssm = Ops.Scale(F(rows, h, p, n), 0.1);
            // A model's worth of layers, each with its own projection weights and states (AiM-B: 24 layers, 180 MB of bf16
            // weights, more than the 50 MB L2), so a step's weights and states come from HBM as in a decode; the rows
            // above reuse one layer's, which stay in L2.
            const int layers = 24;
            var inWs = Enumerable.Range(0, layers).Select(i => Ops.Cast(Ops.Scale(inWf, 1 + i / 64.0), DType.BFloat16)).ToArray();
            var outWs = Enumerable.Range(0, layers).Select(i => Ops.Cast(Ops.Scale(outWf, 1 + i / 64.0), DType.BFloat16)).ToArray();
            var convStates = Enumerable.Range(0, layers).Select(_ => Ops.Scale(convState, 1)).ToArray();
            var ssms = Enumerable.Range(0, layers).Select(_ => Ops.Scale(ssm, 1)).ToArray();
            var a = Ops.Neg(Ops.Exp(F(h)));
            var dtBias = F(h);
            var dSkip = F(h);
            // Each layer's own small operands as well (norm weights, adaLN rows, conv taps and bias, dt bias, A, D), as a
            // model has them: they too fall out of L2 behind the weight stream.
            var smalls = Enumerable.Range(0, layers).Select(_ => new[] { normW, gate, hidden, convW, convB, dtBias, a, dSkip, normE }
                .Select(t => Ops.Scale(t, 1)).ToArray()).ToArray();
            var y = F(rows, e);
            var logits = F(rows, v);
            var flatLogits = Ops.Scale(logits, 0.1);
            var steps = Tensor.Zeros([rows], DType.Int64, dev);
            var tokens = Tensor.Zeros([rows], DType.Int64, dev);
            var positions = Tensor.Zeros([rows], DType.Int64, dev);
            var embedTokens = Tensor.Zeros([rows], DType.Int64, dev);       // the sampler's run past the 257 positions
            var embedPositions = Tensor.Zeros([rows], DType.Int64, dev);
            // Long enough that no timed launch reaches the end of the sequence (a finished row's sampler returns at once).
            var history = Tensor.Zeros([rows / 2, 1 << 16], DType.Int64, dev);
            var settings = new SampleSettings(5, 600, 0.98, 1, 1, 0, 0);
            var conv = Ops.Narrow(zxbcdt, 1, e, c);
            var x = Ops.Reshape(Ops.Narrow(zxbcdt, 1, e, e), rows, h, p);
            var bm = Ops.Reshape(Ops.Narrow(zxbcdt, 1, 2 * e, n), rows, 1, n);
            var cm = Ops.Reshape(Ops.Narrow(zxbcdt, 1, 2 * e + n, n), rows, 1, n);
            var dt = Ops.Narrow(zxbcdt, 1, 2 * e + 2 * n, h);
            double f32 = 4;
            // A whole layer through Ops.MambaDecodeLayer, as DecodeSession.Step calls it: up to SkinnyRowLimit rows four
            // kernels (ModulatedAddRmsNorm, in_proj with the conv step, the SSM step with the gate, out_proj with the gated
            // norm's row factor), above it the cuBLAS form's six (the norms write bf16 for cuBLAS); for comparison the
            // composition (ModulatedAddRmsNorm, MatMul in_proj, CausalConv1dStep, SsmStep, GatedRmsNorm, MatMul out_proj: the
            // rows above, with a cast before each cuBLAS product).
            var kernels = backend.CudaKernels;
            Action layer = () => Ops.MambaDecodeLayer(hidden, gate, residual, normW, 1e-5, gate, hidden, inW, convState, convW, convB, ssm,
                dtBias, a, dSkip, normE, 1e-5, e, outW);
            // A step's layers, layer i with its own weights and states and small operands smallsOf(i): normW, scale + 1,
            // shift, convW, convB, dtBias, a, D, normE.
            Tensor[] shared = [normW, gate, hidden, convW, convB, dtBias, a, dSkip, normE];
            Action Layers(Func<int, Tensor[]> smallsOf) => () =>
            {
                for (int i = 0; i < layers; i++)
                {
                    var q = smallsOf(i);
                    Ops.MambaDecodeLayer(hidden, gate, residual, q[0], 1e-5, q[1], q[2], inWs[i], convStates[i], q[3], q[4], ssms[i], q[5], q[6], q[7],
                        q[8], 1e-5, e, outWs[i]);
                }
            };
            Action model = Layers(_ => shared), modelOwnSmalls = Layers(i => smalls[i]);
            // Comparison switches of CudaKernels, set for the work and restored after it.
            Action composedLayer = Forced(() => kernels.DecodeLayerFused, f => kernels.DecodeLayerFused = f, false, layer);
            // A product with skinny_gemv's columns a warp forced.
            Action Columns(int cols, Action work) => Forced(() => kernels.SkinnyColumnsOverride, c => kernels.SkinnyColumnsOverride = c, cols, work);
            // The skinny GEMM's row limit forced: 0 puts every product on cuBLAS (bf16-rounded activations), 16 every
            // decode-sized one on the skinny GEMM.
            Action SkinnyRows(int limit, Action work) => Forced(() => kernels.SkinnyRowLimit, l => kernels.SkinnyRowLimit = l, limit, work);
            Action WithoutSkinny(Action work) => SkinnyRows(0, work);
            // SampleTokens with a forced block size.
            Action SampleThreads(int threads) => Forced(() => kernels.SampleThreadsOverride, t => kernels.SampleThreadsOverride = t, threads,
                () => Ops.SampleTokens(logits, steps, tokens, positions, history, settings));
            // SsmStep with a forced launch plan.
            Action SsmPlan(int threads, int perWarp) => Forced(() => kernels.SsmStepPlanOverride, o => kernels.SsmStepPlanOverride = o,
                (threads, perWarp), () => Ops.SsmStep(ssm, x, dt, a, bm, cm, dSkip, dtBias));
            double layerBytes = ((double)inProj * d + (double)d * e) * 2 + 2.0 * rows * c * k * f32 + 2.0 * rows * h * p * n * f32 + 8.0 * rows * d * f32;
            // The six kernels of the composition one by one, and the layer's forms on one layer's weights: 0 calls per step,
            // the step's layers are counted in the 24-layer row.
            bool fused = rows <= kernels.SkinnyRowLimit;
            var cases = new (string Name, Action Work, double Bytes, int PerStep)[]
            {
                ("ModulatedAddRmsNorm", () => Ops.ModulatedAddRmsNorm(hidden, gate, residual, normW, 1e-5, gate, hidden), 6.0 * rows * d * f32, 0),
                ("MatMul in_proj (bf16 W)", () => Ops.MatMul(hidden, inW, transB: true), (double)inProj * d * 2 + rows * (d + inProj) * f32, 0),
                // ConvSsmStep runs these two kernels (CausalConv1dStep, then SsmStep on its output's column blocks).
                ("CausalConv1dStep (ConvSsmStep 1/2)", () => Ops.CausalConv1dStep(convState, conv, convW, convB, silu: true), 2.0 * rows * c * k * f32 + 2.0 * rows * c * f32, 0),
                ("SsmStep (ConvSsmStep 2/2)", () => Ops.SsmStep(ssm, x, dt, a, bm, cm, dSkip, dtBias), 2.0 * rows * h * p * n * f32, 0),
                // GatedRmsNormMatMul runs these two (GatedRmsNorm reading z in place, then the product).
                ("GatedRmsNorm (GatedRmsNormMatMul 1/2)", () => Ops.GatedRmsNorm(y, y, normE, 1e-5, e), 3.0 * rows * e * f32, 0),
                ("out_proj bf16 (GatedRmsNormMatMul 2/2)", () => Ops.MatMul(y, outW, transB: true), (double)d * e * 2 + rows * (d + e) * f32, 0),
                // The whole layer as one op: four kernels up to SkinnyRowLimit rows, else the cuBLAS form's six; then a step's
                // 24 layers, each with its own weights and states (one call: 24 layers), as run and with either product.
                ($"MambaDecodeLayer ({(fused ? "4 kernels" : "6 kernels, cuBLAS")})", layer, layerBytes, 0),
                ("MambaDecodeLayer (composition)", composedLayer, layerBytes, 0),
                ("MambaDecodeLayer x24, own weights+states", model, layers * layerBytes, 1),
                ("MambaDecodeLayer x24, own small operands too", modelOwnSmalls, layers * layerBytes, 0),
                ("MambaDecodeLayer x24, cuBLAS products", WithoutSkinny(model), layers * layerBytes, 0),
                ("MambaDecodeLayer x24, composition", Forced(() => kernels.DecodeLayerFused, f => kernels.DecodeLayerFused = f, false, model),
                    layers * layerBytes, 0),
                ("MambaDecodeLayer x24, skinny products", SkinnyRows(16, model), layers * layerBytes, 0),
                ("MambaDecodeLayer, cuBLAS products", WithoutSkinny(layer), layerBytes, 0),
                ("MatMul head, cuBLAS", WithoutSkinny(() => Ops.MatMul(hidden, head, transB: true)), (double)v * d * 2 + rows * (d + v) * f32, 0),
                ("MatMul head, skinny", SkinnyRows(16, () => Ops.MatMul(hidden, head, transB: true)), (double)v * d * 2 + rows * (d + v) * f32, 0),
                ("MatMul head, skinny 1 column a warp", Columns(1, () => Ops.MatMul(hidden, head, transB: true)), (double)v * d * 2 + rows * (d + v) * f32, 0),
                ("MatMul in_proj, skinny 1 column a warp", Columns(1, () => Ops.MatMul(hidden, inW, transB: true)), (double)inProj * d * 2 + rows * (d + inProj) * f32, 0),
                ("SsmStep plan 256 thr x 1 row/warp", SsmPlan(256, 1), 2.0 * rows * h * p * n * f32, 0),
                ("SsmStep plan 256 thr x 2 rows/warp", SsmPlan(256, 2), 2.0 * rows * h * p * n * f32, 0),
                ("SsmStep plan 256 thr x 4 rows/warp", SsmPlan(256, 4), 2.0 * rows * h * p * n * f32, 0),
                ("SsmStep plan 256 thr x 8 rows/warp", SsmPlan(256, 8), 2.0 * rows * h * p * n * f32, 0),
                ("SsmStep plan 128 thr x 4 rows/warp", SsmPlan(128, 4), 2.0 * rows * h * p * n * f32, 0),
                ("MatMul head (bf16 tied table)", () => Ops.MatMul(hidden, head, transB: true), (double)v * d * 2 + rows * (d + v) * f32, 1),
                ("SampleTokens (cfg, top-k 600, top-p 0.98)", () => Ops.SampleTokens(logits, steps, tokens, positions, history, settings), rows * v * f32, 1),
                // Logits of std 0.1 (a random-weight model's, as in aim bench generate): guided values of std ~0.5, so
                // top-p 0.98 keeps nearly all of the top-k 600 and the sampler sorts ~600 keys (N(0, 1) logits keep a few).
                ("SampleTokens, near-flat logits", () => Ops.SampleTokens(flatLogits, steps, tokens, positions, history, settings), rows * v * f32, 0),
                ("SampleTokens, guided row recomputed", Forced(() => kernels.SampleGuidedCache, f => kernels.SampleGuidedCache = f, false,
                    () => Ops.SampleTokens(logits, steps, tokens, positions, history, settings)), rows * v * f32, 0),
                ("SampleTokens, 512 threads", SampleThreads(512), rows * v * f32, 0),
                ("SampleTokens, 256 threads", SampleThreads(256), rows * v * f32, 0),
                // After the last layer (DecodeSession.Step): its gate and the final residual add with NormF, then NormFinal's adaLN.
                ("Final norms (Mul, AddRmsNorm, ModulatedAddRmsNorm)", () =>
                {
                    var (normed, _) = Ops.AddRmsNorm(Ops.Mul(gate, hidden), residual, normW, 1e-5);
                    Ops.ModulatedAddRmsNorm(normed, null, null, normW, 1e-5, gate, hidden);
                }, 9.0 * rows * d * f32, 1),
                ("Embedding word (bf16 table) + pos + add", () => Ops.Add(Ops.Embedding(head, embedTokens), Ops.Embedding(Ops.Narrow(head, 0, 0, 257), embedPositions)), 3.0 * rows * d * f32, 1),
                // The rows above chained as DecodeSession.Step and AimDecoder.Generate run them: against the sum, what the
                // kernels cost one another.
                ("Whole step, as a decode runs it", () =>
                {
                    Tensor x = Ops.Add(Ops.Embedding(head, embedTokens), Ops.Embedding(Ops.Narrow(head, 0, 0, 257), embedPositions));
                    Tensor? g = null, r = null;
                    for (int i = 0; i < layers; i++)
                    {
                        var (yi, ri) = Ops.MambaDecodeLayer(x, g, r, normW, 1e-5, gate, hidden, inWs[i], convStates[i], convW, convB, ssms[i], dtBias, a,
                            dSkip, normE, 1e-5, e, outWs[i]);
                        (x, g, r) = (yi, gate, ri);
                    }
                    var (normed, _) = Ops.AddRmsNorm(Ops.Mul(g!, x), r, normW, 1e-5);
                    var (final, _) = Ops.ModulatedAddRmsNorm(normed, null, null, normW, 1e-5, gate, hidden);
                    Ops.SampleTokens(Ops.MatMul(final, head, transB: true), steps, tokens, positions, history, settings);
                }, 0, 0),
            };
            double total = 0, floorTotal = 0;
            foreach (var (name, work, bytes, perStep) in cases)
            {
                try
                {
                    using (TensorScope.Open()) work();                            // compile and warm the caches
                    using var graph = Backend.Record(dev, () => { for (int i = 0; i < Launches; i++) work(); });
                    double us = CudaPerf.Time(backend, graph.Replay) * 1e3 / Launches;
                    double floor = bytes / (bandwidthGBs * 1e9) * 1e6;
                    total += us * perStep;
                    floorTotal += floor * perStep;
                    Console.WriteLine($"{name,-40} | {rows,4} | {us,8:F2} | {floor,8:F2} | {perStep,10}");
                }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or NotSupportedException or Aim.Engine.Cuda.Interop.CudaException)
                {
                    Console.WriteLine($"{name,-40} | {rows,4} | FAILED: {ex.Message}");
                }
            }
            Console.WriteLine($"{"sum over one step",-40} | {rows,4} | {total,8:F1} | {floorTotal,8:F1} |");
        }
    }
}

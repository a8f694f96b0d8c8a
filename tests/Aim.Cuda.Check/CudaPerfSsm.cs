// Device-event timings of the Ssm kernels on cuda:0 at AiM's training and sampling shapes (H=24 heads of P=64,
// N=128 state, one group): the chunked SsdScan forward and backward at B=32, L=256 with each matrix engine (and the
// serial backward, and the training pair: forward keeping its chunk states, backward reading them), and SsmStep / CausalConv1dStep for B = 2..128 rows. FLOP counts are those of the chunked algorithm as implemented.
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>Timing table for the Ssm family.</summary>
internal static class CudaPerfSsm
{
    public static void Run(CudaBackend backend)
    {
        var dev = backend.Device;
        var k = backend.Kernels;
        var rng = new Rng(4321);
        Console.WriteLine();
        Console.WriteLine($"{"ssm kernel",-56} | {"median ms",9} | rate");
        const int h = 24, p = 64, n = 128, g = 1;
        {
            using var scope = TensorScope.Open();
            const int b = 32, l = 256;
            var x = rng.Normal([b, l, h, p]).To(dev);
            var dt = Ops.Exp(rng.Uniform([b, l, h], Math.Log(0.001), Math.Log(0.1))).To(dev);
            var a = rng.Uniform([h], -16, -1).To(dev);
            var bm = rng.Normal([b, l, g, n]).To(dev);
            var cm = rng.Normal([b, l, g, n]).To(dev);
            var d = rng.Normal([h]).To(dev);
            var y = Tensor.Empty([b, l, h, p], DType.Float32, dev);
            var fs = Tensor.Empty([b, h, p, n], DType.Float32, dev);
            var gy = rng.Normal([b, l, h, p]).To(dev);
            var dx = Tensor.Empty([b, l, h, p], DType.Float32, dev);
            var ddt = Tensor.Empty([b, l, h], DType.Float32, dev);
            var da = Tensor.Empty([h], DType.Float32, dev);
            var db = Tensor.Empty([b, l, g, n], DType.Float32, dev);
            var dc = Tensor.Empty([b, l, g, n], DType.Float32, dev);
            var dd = Tensor.Empty([h], DType.Float32, dev);
            var ck = backend.CudaKernels;
            var (oldMath, oldSerial) = (ck.SsdMath, ck.SsdSerialBackward);
            foreach (var math in new[] { SsdMatrixMath.Float32Fma, SsdMatrixMath.SplitTf32, SsdMatrixMath.Tf32 })
            {
                ck.SsdMath = math;
                foreach (int q in new[] { 256, 128, 64 })
                {
                    float ms = CudaPerf.Time(backend, () => k.SsdScan(x, dt, a, bm, cm, d, null, q, y, fs, null));
                    // CB (lower triangle), chunk states, state-to-output (chunks after the first), diagonal block product.
                    int nc = l / q;
                    double flops = 2.0 * b * g * nc * q * (q + 1) / 2 * n + 2.0 * b * h * l * p * n
                        + 2.0 * b * h * (nc - 1) * q * p * n + 2.0 * b * h * nc * q * (q + 1) / 2 * p;
                    CudaPerf.Report($"SsdScan {math} B={b},L={l},H={h},P={p},N={n},chunk={q}", ms, 0, flops);
                }
                // Chunk 64: the forward recompute (as above) plus dstate, dMd, dx (two products), dC (two), dB (two).
                const int bq = 64;
                double bflops = 2.0 * b * g * (l / bq) * bq * (bq + 1) / 2 * n + 2.0 * b * h * l * p * n * 6
                    + 2.0 * b * h * l * (bq + 1) / 2 * (2 * p + 2 * n);
                float bms = CudaPerf.Time(backend, () => k.SsdScanBackward(x, dt, a, bm, cm, d, null, gy, null, null, 0, dx, ddt, da, db, dc, dd, null));
                CudaPerf.Report($"SsdScanBackward chunked {math} B={b},L={l},H={h},P={p},N={n}", bms, 0, bflops);
                // Training: the recorded forward runs at the backward's chunk keeping its chunk states, and the backward
                // reads them instead of rerunning ssd_chunk_states.
                using (var states = Tensor.Empty([b, h, l / bq, p, n], DType.Float32, dev))
                {
                    float fms = CudaPerf.Time(backend, () => k.SsdScan(x, dt, a, bm, cm, d, null, bq, y, fs, states));
                    CudaPerf.Report($"SsdScan {math} B={b},L={l},H={h},P={p},N={n},chunk={bq},chunkStates", fms, 0, 0);
                    float sbms = CudaPerf.Time(backend, () => k.SsdScanBackward(x, dt, a, bm, cm, d, null, gy, null, states, bq, dx, ddt, da, db, dc, dd, null));
                    CudaPerf.Report($"SsdScanBackward chunked {math} B={b},L={l},H={h},P={p},N={n},saved states", sbms, 0, bflops - 2.0 * b * h * l * p * n);
                }
                int oldChunk = ck.SsdBackwardChunk;
                ck.SsdBackwardChunk = 128;
                bms = CudaPerf.Time(backend, () => k.SsdScanBackward(x, dt, a, bm, cm, d, null, gy, null, null, 0, dx, ddt, da, db, dc, dd, null));
                CudaPerf.Report($"SsdScanBackward chunked {math} B={b},L={l},H={h},P={p},N={n},chunk=128", bms, 0, 0);
                ck.SsdBackwardChunk = oldChunk;
            }
            ck.SsdSerialBackward = true;
            float sms = CudaPerf.Time(backend, () => k.SsdScanBackward(x, dt, a, bm, cm, d, null, gy, null, null, 0, dx, ddt, da, db, dc, dd, null));
            CudaPerf.Report($"SsdScanBackward serial B={b},L={l},H={h},P={p},N={n}", sms, 0, 0);
            (ck.SsdMath, ck.SsdSerialBackward) = (oldMath, oldSerial);
        }
        foreach (int b in new[] { 2, 8, 32, 128 })
        {
            using var scope = TensorScope.Open();
            var state = rng.Normal([b, h, p, n]).To(dev);
            var x = rng.Normal([b, h, p]).To(dev);
            var dt = Ops.Exp(rng.Uniform([b, h], Math.Log(0.001), Math.Log(0.1))).To(dev);
            var a = rng.Uniform([h], -16, -1).To(dev);
            var bm = rng.Normal([b, g, n]).To(dev);
            var cm = rng.Normal([b, g, n]).To(dev);
            var d = rng.Normal([h]).To(dev);
            var y = Tensor.Empty([b, h, p], DType.Float32, dev);
            float ms = CudaPerf.Time(backend, () => k.SsmStep(state, x, dt, a, bm, cm, d, y, null));
            CudaPerf.Report($"SsmStep f32 B={b},H={h},P={p},N={n} (state r+w)", ms, 2.0 * b * h * p * n * 4, 0);
            const int ch = 24 * 64 + 2 * 128;
            var cstate = rng.Normal([b, ch, 4]).To(dev);
            var cx = rng.Normal([b, ch]).To(dev);
            var cw = rng.Normal([ch, 4]).To(dev);
            var cbias = rng.Normal([ch]).To(dev);
            var cy = Tensor.Empty([b, ch], DType.Float32, dev);
            float cms = CudaPerf.Time(backend, () => k.CausalConv1dStep(cstate, cx, cw, cbias, true, cy));
            CudaPerf.Report($"CausalConv1dStep f32 B={b},C={ch},K=4", cms, 2.0 * b * ch * 4 * 4, 0);
        }
    }
}

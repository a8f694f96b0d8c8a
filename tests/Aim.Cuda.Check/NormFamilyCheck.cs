// GPU-run extras for the norm, softmax and embedding kernels: bf16 storage checks (each op on bf16 inputs
// against the same op in float32 on the bf16-rounded inputs, both on CUDA) and device-event timings at
// model-like sizes, next to the memory-bandwidth rate the bytes moved imply.
using Aim.Engine.Autograd;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Cuda.Tests;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>bf16 checks and timings of the norm, softmax and embedding families on cuda:0.</summary>
internal static class NormFamilyCheck
{
    /// <summary>One row per op: bf16 result vs float32 result, NMSE limit 1e-4 (a few bf16 roundings of 2^-9).</summary>
    public static IEnumerable<CudaCaseResult> Bf16Checks()
    {
        (string Name, Func<Tensor[], Tensor> F, Func<Rng, Tensor[]> Make)[] ops =
        [
            ("RmsNorm", x => Ops.RmsNorm(x[0], x[1], 1e-5), r => [r.Normal([33, 257]), r.Uniform([257], 0.5, 1.5)]),
            ("AddRmsNorm.normed", x => Ops.AddRmsNorm(x[0], x[1], x[2], 1e-5).Normed, r => [r.Normal([33, 257]), r.Normal([33, 257]), r.Uniform([257], 0.5, 1.5)]),
            ("GatedRmsNorm(group=31)", x => Ops.GatedRmsNorm(x[0], x[1], x[2], 1e-5, 31), r => [r.Normal([9, 62]), r.Normal([9, 62]), r.Uniform([62], 0.5, 1.5)]),
            ("LayerNorm", x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5), r => [r.Normal([33, 257]), r.Uniform([257], 0.5, 1.5), r.Normal([257])]),
            ("GroupNorm", x => Ops.GroupNorm(x[0], 4, x[1], x[2], 1e-6), r => [r.Normal([2, 8, 31]), r.Uniform([8], 0.5, 1.5), r.Normal([8])]),
            ("Softmax", x => Ops.Softmax(x[0]), r => [r.Normal([33, 257])]),
            ("LogSoftmax", x => Ops.LogSoftmax(x[0]), r => [r.Normal([33, 257])]),
        ];
        foreach (var (name, f, make) in ops)
        {
            string label = $"bf16.{name}";
            CudaCaseResult row;
            try
            {
                using var scope = TensorScope.Open();
                using var noGrad = Tape.NoGrad();
                var inputs = make(new Rng(4242));
                var dev = CudaHarness.Device;
                var bf = inputs.Select(t => Ops.Cast(t, DType.BFloat16).To(dev)).ToArray();
                var f32 = bf.Select(t => Ops.Cast(t, DType.Float32)).ToArray();
                double[] expected = Ops.Cast(f(f32), DType.Float64).To(Device.Cpu).ToArray<double>();
                double[] actual = Ops.Cast(Ops.Cast(f(bf), DType.Float32), DType.Float64).To(Device.Cpu).ToArray<double>();
                var (nmse, maxAbs) = Aim.BackendOps.Harness.Error(expected, actual);
                row = new(label, nmse <= 1e-4 ? "pass" : "FAIL", nmse, $"nmse={nmse:E2} maxabs={maxAbs:E2} (limit 1E-004)");
            }
            catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException)
            {
                row = new(label, "FAIL", double.NaN, e.GetType().Name + ": " + e.Message);
            }
            yield return row;
        }
    }

    /// <summary>Timings (median of 15 after warm-up) at model-like sizes.</summary>
    public static void Perf(CudaBackend backend)
    {
        var dev = backend.Device;
        var k = backend.Kernels;
        var rng = new Rng(99);
        using var scope = TensorScope.Open();
        const int rows = 16384, d = 1024;
        double rowBytes = (double)rows * d * 4;
        var x = rng.Normal([rows, d]).To(dev);
        var z = rng.Normal([rows, d]).To(dev);
        var g = rng.Normal([rows, d]).To(dev);
        var w = rng.Uniform([d], 0.5, 1.5).To(dev);
        var bias = rng.Normal([d]).To(dev);
        var y = Tensor.Empty([rows, d], DType.Float32, dev);
        var y2 = Tensor.Empty([rows, d], DType.Float32, dev);
        var dw = Tensor.Empty([d], DType.Float32, dev);
        var db = Tensor.Empty([d], DType.Float32, dev);
        CudaPerf.Report($"RmsNorm f32 {rows}x{d}", CudaPerf.Time(backend, () => k.RmsNorm(x, w, 1e-5, y)), 2 * rowBytes, 0);
        CudaPerf.Report($"AddRmsNorm f32 {rows}x{d}", CudaPerf.Time(backend, () => k.AddRmsNorm(x, z, w, 1e-5, y, y2)), 4 * rowBytes, 0);
        ModulatedPerf(backend, rng, 32, 768);
        ModulatedPerf(backend, rng, rows, d);
        CudaPerf.Report($"RmsNormBackward f32 {rows}x{d}", CudaPerf.Time(backend, () => k.RmsNormBackward(x, w, g, 1e-5, y, dw)), 3 * rowBytes, 0);
        CudaPerf.Report($"GatedRmsNorm f32 {rows}x{d} group={d}", CudaPerf.Time(backend, () => k.GatedRmsNorm(x, z, w, 1e-5, d, y)), 3 * rowBytes, 0);
        CudaPerf.Report($"GatedRmsNormBackward f32 {rows}x{d}", CudaPerf.Time(backend, () => k.GatedRmsNormBackward(x, z, w, g, 1e-5, d, y, y2, dw)), 5 * rowBytes, 0);
        CudaPerf.Report($"LayerNorm f32 {rows}x{d}", CudaPerf.Time(backend, () => k.LayerNorm(x, w, bias, 1e-5, y)), 2 * rowBytes, 0);
        CudaPerf.Report($"LayerNormBackward f32 {rows}x{d}", CudaPerf.Time(backend, () => k.LayerNormBackward(x, w, g, 1e-5, y, dw, db)), 3 * rowBytes, 0);
        CudaPerf.Report($"Softmax f32 {rows}x{d}", CudaPerf.Time(backend, () => k.Softmax(x, y)), 2 * rowBytes, 0);
        CudaPerf.Report($"SoftmaxBackward f32 {rows}x{d}", CudaPerf.Time(backend, () => k.SoftmaxBackward(x, g, y)), 3 * rowBytes, 0);
        var gx = rng.Normal([8, 256, 64, 64]).To(dev);
        var gy = Tensor.Empty([8, 256, 64, 64], DType.Float32, dev);
        var gw = rng.Uniform([256], 0.5, 1.5).To(dev);
        var gb = rng.Normal([256]).To(dev);
        double gBytes = 8.0 * 256 * 64 * 64 * 4;
        CudaPerf.Report("GroupNorm f32 8x256x64x64 groups=32", CudaPerf.Time(backend, () => k.GroupNorm(gx, 32, gw, gb, 1e-6, gy)), 2 * gBytes, 0);
        var gdw = Tensor.Empty([256], DType.Float32, dev);
        var gdb = Tensor.Empty([256], DType.Float32, dev);
        CudaPerf.Report("GroupNormBackward f32 8x256x64x64", CudaPerf.Time(backend, () => k.GroupNormBackward(gx, 32, gw, gx, 1e-6, gy, gdw, gdb)), 3 * gBytes, 0);
        const int n = 4096, v = 16384;
        var logits = rng.Normal([n, v]).To(dev);
        var targets = Aim.BackendOps.OpCases.Ids(rng, v, n).To(dev);
        var loss = Tensor.Empty([1], DType.Float32, dev);
        var dLoss = Tensor.Full([1], 1.0, DType.Float32, dev);
        var dl = Tensor.Empty([n, v], DType.Float32, dev);
        double lBytes = (double)n * v * 4;
        CudaPerf.Report($"CrossEntropy f32 N={n} V={v} (incl. id check)", CudaPerf.Time(backend, () => k.CrossEntropy(logits, targets, loss)), lBytes, 0);
        CudaPerf.Report($"CrossEntropyBackward f32 N={n} V={v}", CudaPerf.Time(backend, () => k.CrossEntropyBackward(logits, targets, dLoss, dl)), 2 * lBytes, 0);
        var table = rng.Normal([v, d]).To(dev);
        var ids = Aim.BackendOps.OpCases.Ids(rng, v, 8192).To(dev);
        var emb = Tensor.Empty([8192, d], DType.Float32, dev);
        var dtable = Tensor.Zeros([v, d], DType.Float32, dev);
        double eBytes = 8192.0 * d * 4;
        CudaPerf.Report($"Embedding f32 8192 ids D={d} (incl. id check)", CudaPerf.Time(backend, () => k.Embedding(table, ids, emb)), 2 * eBytes, 0);
        CudaPerf.Report($"EmbeddingBackward f32 8192 ids D={d}", CudaPerf.Time(backend, () => k.EmbeddingBackward(ids, emb, dtable)), 3 * eBytes, 0);
    }

    // ModulatedAddRmsNorm in place (the decode's residual stream) next to the four kernels it replaces
    // (Mul, AddRmsNorm, Mul, Add); 7 row tensors moved by the fused kernel.
    private static void ModulatedPerf(CudaBackend backend, Rng rng, int rows, int d)
    {
        var dev = backend.Device;
        var k = backend.Kernels;
        var x = rng.Normal([rows, d]).To(dev);
        var gate = rng.Normal([rows, d]).To(dev);
        var res = rng.Normal([rows, d]).To(dev);
        var w = rng.Uniform([d], 0.5, 1.5).To(dev);
        var s = rng.Uniform([rows, d], 0.5, 1.5).To(dev);
        var t = rng.Normal([rows, d]).To(dev);
        var y = Tensor.Empty([rows, d], DType.Float32, dev);
        var p = Tensor.Empty([rows, d], DType.Float32, dev);
        var n = Tensor.Empty([rows, d], DType.Float32, dev);
        var r2 = Tensor.Empty([rows, d], DType.Float32, dev);
        double rowBytes = (double)rows * d * 4;
        CudaPerf.Report($"ModulatedAddRmsNorm f32 {rows}x{d} in place", CudaPerf.Time(backend, () => k.ModulatedAddRmsNorm(x, gate, res, w, 1e-5, s, t, y, res)), 7 * rowBytes, 0);
        CudaPerf.Report($"  as Mul+AddRmsNorm+Mul+Add {rows}x{d}", CudaPerf.Time(backend, () =>
        {
            k.Binary(Aim.Engine.Kernels.BinaryOp.Mul, gate, x, p);
            k.AddRmsNorm(p, res, w, 1e-5, n, r2);
            k.Binary(Aim.Engine.Kernels.BinaryOp.Mul, n, s, y);
            k.Binary(Aim.Engine.Kernels.BinaryOp.Add, y, t, y);
        }), 7 * rowBytes, 0);
    }
}

// Runs backend-ops harness cases on CUDA (inputs moved to cuda:0, outputs back) and the CUDA-only checks the
// harness's float32 cases do not reach (bf16 and TF32 GEMM, every cast, every fill dtype, allocator reuse).
// Shared by the xUnit tests and the Aim.Cuda.Check console that runs on the GPU machine.
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

/// <summary>One row of a CUDA check run.</summary>
public sealed record CudaCaseResult(string Name, string Status, double Nmse, string Detail)
{
    /// <summary>True unless the case failed ("unsupported" is not a failure unless the case is core).</summary>
    public bool Ok => Status is "pass" or "unsupported";
}

/// <summary>The CUDA side of the backend-ops harness.</summary>
public static class CudaHarness
{
    private static readonly HashSet<string> s_coreOps = ["Affine", "Sum", "Concat", "Narrow", "Cast", "MatMul", "Linear"];

    /// <summary>True for the cases of the core kernel family (OpCases.Core.cs), which must all run on CUDA.</summary>
    public static bool IsCore(OpCase c) => c.Op.StartsWith("Unary.", StringComparison.Ordinal) || c.Op.StartsWith("Binary.", StringComparison.Ordinal) || s_coreOps.Contains(c.Op);

    /// <summary>cuda:0, registering the backend on first use.</summary>
    public static Device Device
    {
        get
        {
            CudaBackend.Initialize();
            return Tensors.Device.Cuda(0);
        }
    }

    /// <summary>Runs one harness case on CUDA against the reference; NotSupportedException makes it "unsupported" (a failure for core cases).</summary>
    public static CudaCaseResult Run(OpCase c)
    {
        var device = Device;
        try
        {
            var r = Harness.Compare(c with { MaxNmse = c.CudaMaxNmse ?? c.MaxNmse }, "cuda", (oc, inputs) =>
            {
                var onDevice = inputs.Select(t => t.To(device)).ToArray();
                var outputs = oc.Forward(onDevice);
                return [.. outputs.Select(o => o.To(Tensors.Device.Cpu))];
            });
            return new(c.ToString(), r.Passed ? "pass" : "FAIL", WorstNmse(r.Detail), r.Detail);
        }
        catch (NotSupportedException e)
        {
            return new(c.ToString(), IsCore(c) ? "FAIL" : "unsupported", double.NaN, e.Message);
        }
    }

    private static double WorstNmse(string detail)
    {
        double worst = 0;
        foreach (string part in detail.Split(' ', ';'))
            if (part.StartsWith("nmse=", StringComparison.Ordinal) && double.TryParse(part.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture, out double v))
                worst = Math.Max(worst, v);
        return worst;
    }

    /// <summary>The CUDA-specific checks, each compared with a float64 host computation.</summary>
    public static IEnumerable<Func<CudaCaseResult>> ExtraChecks()
    {
        foreach (var (m, k, n) in new[] { (7, 31, 5), (257, 65, 33), (64, 512, 96) })
        {
            yield return () => GemmCheck($"Gemm.bf16(M={m},K={k},N={n})", m, k, n, DType.BFloat16, tf32: false, maxNmse: 1e-5);
            yield return () => GemmCheck($"Gemm.f32-tf32(M={m},K={k},N={n})", m, k, n, DType.Float32, tf32: true, maxNmse: 1e-5);
            yield return () => GemmCheck($"Gemm.f64(M={m},K={k},N={n})", m, k, n, DType.Float64, tf32: false, maxNmse: 1e-24);
        }
        yield return () => ElementwiseBf16Check();
        DType[] all = [DType.Float32, DType.Float64, DType.BFloat16, DType.Int32, DType.Int64];
        foreach (var from in all)
            foreach (var to in all)
                yield return () => CastCheck(from, to);
        foreach (var dt in all) yield return () => FillCheck(dt);
        yield return AllocatorReuseCheck;
        foreach (var check in CudaSampleChecks.All()) yield return check;
        foreach (var check in CudaSsdChecks.All()) yield return check;
    }

    /// <summary>Runs one check in its own tensor scope without gradients; an expected failure becomes a FAIL row.</summary>
    public static CudaCaseResult Guard(string name, Func<CudaCaseResult> body)
    {
        try
        {
            using var scope = TensorScope.Open();
            using var noGrad = Tape.NoGrad();
            return body();
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException or Interop.CudaException or InvalidOperationException)
        {
            return new(name, "FAIL", double.NaN, e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>A tensor's values as float64 on the host (from any device and dtype).</summary>
    internal static double[] HostDoubles(Tensor t)
    {
        using var cpu = t.Device.Kind == DeviceKind.Cpu ? Ops.Clone(t) : t.To(Tensors.Device.Cpu);
        using var d = Ops.Cast(cpu, DType.Float64);
        return d.ToArray<double>();
    }

    private static CudaCaseResult Compare(string name, double[] expected, Tensor actual, double maxNmse)
    {
        var (nmse, maxAbs) = Harness.Error(expected, HostDoubles(actual));
        bool ok = nmse <= maxNmse && !double.IsNaN(nmse);
        return new(name, ok ? "pass" : "FAIL", nmse, $"nmse={nmse:E2} maxabs={maxAbs:E2} (limit {maxNmse:E0})");
    }

    private static CudaCaseResult GemmCheck(string name, int m, int k, int n, DType dtype, bool tf32, double maxNmse) => Guard(name, () =>
    {
        var rng = new Rng(0x5EED ^ (ulong)(m * 1000003 + k * 1009 + n) ^ (ulong)dtype);
        using var a32 = rng.Normal([2, m, k]);
        using var b32 = rng.Normal([2, k, n]);
        using var a = Ops.Cast(a32, dtype);
        using var b = Ops.Cast(b32, dtype);
        // Reference from the (rounded) operands in float64.
        double[] ha = HostDoubles(a), hb = HostDoubles(b);
        var expected = new double[2 * m * n];
        for (int bi = 0; bi < 2; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += ha[(bi * m + i) * k + p] * hb[(bi * k + p) * n + j];
                    expected[(bi * m + i) * n + j] = s;
                }
        var device = Device;
        var backend = CudaBackend.For(device);
        bool before = backend.CudaKernels.AllowTf32;
        backend.CudaKernels.AllowTf32 = tf32;
        try
        {
            using var da = a.To(device);
            using var db = b.To(device);
            using var c = Ops.MatMul(da, db);
            // bf16 output adds one rounding (relative 2^-9) on top of the float32 accumulation.
            return Compare(name, expected, c, maxNmse);
        }
        finally
        {
            backend.CudaKernels.AllowTf32 = before;
        }
    });

    private static CudaCaseResult ElementwiseBf16Check() => Guard("Elementwise.bf16(silu(a*b+a),n=4097)", () =>
    {
        var rng = new Rng(77);
        using var a = Ops.Cast(rng.Normal([4097]), DType.BFloat16);
        using var b = Ops.Cast(rng.Normal([4097]), DType.BFloat16);
        double[] ha = HostDoubles(a), hb = HostDoubles(b);
        var expected = new double[ha.Length];
        for (int i = 0; i < ha.Length; i++)
        {
            double v = ha[i] * hb[i] + ha[i];
            expected[i] = v / (1 + Math.Exp(-v));
        }
        var device = Device;
        using var da = a.To(device);
        using var db = b.To(device);
        using var y = Ops.Silu(Ops.Add(Ops.Mul(da, db), da));
        // Three bf16 roundings of relative size 2^-9: NMSE around 1e-5.
        return Compare("Elementwise.bf16(silu(a*b+a),n=4097)", expected, y, 1e-4);
    });

    private static CudaCaseResult CastCheck(DType from, DType to)
    {
        string name = $"Cast.{from.ShortName()}->{to.ShortName()}(7x33,transposed)";
        return Guard(name, () =>
        {
            var rng = new Rng(0xCA57 + (ulong)from * 7 + (ulong)to);
            using var raw = rng.Uniform([33, 7], -1000, 1000);
            using var src = Ops.Cast(raw, from);
            using var expectedT = Ops.Cast(Ops.Transpose(src, 0, 1), to);
            var device = Device;
            using var onDevice = src.To(device);
            using var actual = Ops.Cast(Ops.Transpose(onDevice, 0, 1), to);
            var e = HostDoubles(expectedT);
            var (nmse, maxAbs) = Harness.Error(e, HostDoubles(actual));
            bool ok = nmse == 0;
            return new CudaCaseResult(name, ok ? "pass" : "FAIL", nmse, $"bit-exact vs CPU cast: maxabs={maxAbs:E2}");
        });
    }

    private static CudaCaseResult FillCheck(DType dtype)
    {
        string name = $"Fill.{dtype.ShortName()}(n=1031)";
        return Guard(name, () =>
        {
            double value = dtype.IsFloat() ? -3.25 : 123456;
            using var t = Tensor.Full([1031], value, dtype, Device);
            var got = HostDoubles(t);
            bool ok = got.All(v => v == value);
            return new CudaCaseResult(name, ok ? "pass" : "FAIL", 0, ok ? "all elements equal" : $"first {got[0]}");
        });
    }

    private static CudaCaseResult AllocatorReuseCheck() => Guard("Allocator.reuse", () =>
    {
        var backend = CudaBackend.For(Device);
        for (int i = 0; i < 3; i++) Tensor.Zeros([1 << 20], DType.Float32, Device).Dispose();
        long before = backend.Allocator.DriverAllocations;
        for (int i = 0; i < 100; i++)
        {
            using var z = Tensor.Zeros([1 << 20], DType.Float32, Device);
            if (i == 99 && HostDoubles(z).Any(v => v != 0)) return new CudaCaseResult("Allocator.reuse", "FAIL", 0, "zeroed block was not zero");
        }
        long after = backend.Allocator.DriverAllocations;
        return new CudaCaseResult("Allocator.reuse", after == before ? "pass" : "FAIL", 0,
            $"{after - before} driver allocations for 100 same-size tensors; live {backend.Allocator.LiveBytes} B, cached {backend.Allocator.CachedBytes} B");
    });
}

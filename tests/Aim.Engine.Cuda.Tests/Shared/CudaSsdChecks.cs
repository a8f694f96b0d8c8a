// CUDA-only checks of the SSD scan engines: the forward and the chunked backward with each matrix engine of
// ssm.cu (fp32 FMA, TF32, 3xTF32 on the tensor cores) and the serial backward, against the float64 reference,
// at the AiM-B head shape (P=64, N=128: two n-tiles) and at odd sizes that span several 64-wide tiles in every
// dimension (P=65, N=130, L=130 → chunks of 64, 64, 2) — the harness cases stay below one tile.
// Limits: FMA and 3xTF32 are float32-grade (NMSE ≤ 1e-9: float32 storage and sums against a float64 reference);
// one TF32 product rounds each operand to 11 significant bits (relative 2^-11 ≈ 5e-4 per product), NMSE ≤ 1e-5.
using Aim.BackendOps;
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

/// <summary>The SSD scan engine checks, in the result format of <see cref="CudaHarness"/>.</summary>
public static class CudaSsdChecks
{
    private sealed record Shape(int B, int L, int H, int G, int P, int N, int Chunk, bool Init, bool Final)
    {
        public override string ToString() => $"B={B},L={L},H={H},G={G},P={P},N={N},chunk={Chunk}{(Init ? ",init" : "")}{(Final ? ",dFinal" : "")}";
    }

    private static readonly Shape[] s_shapes =
    [
        new(2, 256, 24, 1, 64, 128, 64, false, false),
        new(1, 130, 3, 1, 65, 130, 64, true, true),
        new(2, 77, 4, 2, 33, 20, 256, false, true),
    ];

    /// <summary>Every check, each run lazily.</summary>
    public static IEnumerable<Func<CudaCaseResult>> All()
    {
        foreach (var s in s_shapes)
        {
            foreach (var math in new[] { SsdMatrixMath.Float32Fma, SsdMatrixMath.SplitTf32, SsdMatrixMath.Tf32 })
                yield return () => Check(s, math, serial: false);
            if (s.P <= 64 && s.N <= 128) yield return () => Check(s, SsdMatrixMath.SplitTf32, serial: true);
        }
    }

    private static CudaCaseResult Check(Shape s, SsdMatrixMath math, bool serial)
    {
        string name = $"SsdScan.{(serial ? "serial-backward" : math.ToString())}({s})";
        return CudaHarness.Guard(name, () =>
        {
            var kernels = ((CudaBackend)Backend.For(CudaHarness.Device)).CudaKernels;
            var (oldMath, oldSerial) = (kernels.SsdMath, kernels.SsdSerialBackward);
            try
            {
                kernels.SsdMath = math;
                kernels.SsdSerialBackward = serial;
                var expected = Expected(s);
                var actual = Run(s, CudaHarness.Device, useReference: false);
                double limit = math == SsdMatrixMath.Tf32 ? 1e-5 : 1e-9;
                string[] names = ["y", "final", "dx", "ddt", "da", "db", "dc", "dd", "dinit"];
                double worst = 0;
                var details = new List<string>();
                for (int i = 0; i < names.Length; i++)
                {
                    if (expected[i] is null) continue;
                    var (nmse, maxAbs) = Harness.Error(expected[i]!, actual[i]!);
                    worst = double.IsNaN(nmse) ? double.NaN : Math.Max(worst, nmse);
                    details.Add($"{names[i]} nmse={nmse:E2} maxabs={maxAbs:E2}");
                }
                bool ok = !double.IsNaN(worst) && worst <= limit;
                return new CudaCaseResult(name, ok ? "pass" : "FAIL", worst, string.Join("; ", details) + $" (limit {limit:E0})");
            }
            finally
            {
                kernels.SsdMath = oldMath;
                kernels.SsdSerialBackward = oldSerial;
            }
        });
    }

    private static readonly Dictionary<Shape, double[]?[]> s_expected = [];

    /// <summary>The float64 reference results of a shape, computed once for all engines.</summary>
    private static double[]?[] Expected(Shape s)
    {
        lock (s_expected)
        {
            if (!s_expected.TryGetValue(s, out var r)) s_expected[s] = r = Run(s, Device.Cpu, useReference: true);
            return r;
        }
    }

    /// <summary>Forward and backward on <paramref name="device"/> (float64 reference kernels on the CPU) from the shape's seeded inputs.</summary>
    private static double[]?[] Run(Shape s, Device device, bool useReference)
    {
        var rng = new Rng(OpCase.SeedOf(s.ToString()));
        var dtype = useReference ? DType.Float64 : DType.Float32;
        Tensor On(Tensor t)
        {
            var cast = Operations.Ops.Cast(t, dtype);
            return device.Kind == DeviceKind.Cpu ? cast : cast.To(device);
        }
        var x = On(OpCases.Randn(rng, s.B, s.L, s.H, s.P));
        var dt = On(OpCases.RandDt(rng, s.B, s.L, s.H));
        var a = On(OpCases.RandA(rng, s.H));
        var b = On(OpCases.Randn(rng, s.B, s.L, s.G, s.N));
        var c = On(OpCases.Randn(rng, s.B, s.L, s.G, s.N));
        var d = On(OpCases.Randn(rng, s.H));
        var init = s.Init ? On(rng.Normal([s.B, s.H, s.P, s.N], 0, 0.5)) : null;
        var gy = On(OpCases.Randn(rng, s.B, s.L, s.H, s.P));
        var gf = s.Final ? On(OpCases.Randn(rng, s.B, s.H, s.P, s.N)) : null;
        var k = useReference ? new Aim.Engine.Kernels.Reference.ReferenceKernels() : Backend.Kernels(device);
        Tensor Empty(params int[] shape) => Tensor.Empty(shape, dtype, device);
        var y = Empty(s.B, s.L, s.H, s.P);
        var final = Empty(s.B, s.H, s.P, s.N);
        k.SsdScan(x, dt, a, b, c, d, init, s.Chunk, y, final);
        var dx = Empty(s.B, s.L, s.H, s.P);
        var ddt = Empty(s.B, s.L, s.H);
        var da = Empty(s.H);
        var db = Empty(s.B, s.L, s.G, s.N);
        var dc = Empty(s.B, s.L, s.G, s.N);
        var dd = Empty(s.H);
        var dinit = Empty(s.B, s.H, s.P, s.N);
        k.SsdScanBackward(x, dt, a, b, c, d, init, gy, gf, dx, ddt, da, db, dc, dd, dinit);
        return [Host(y), Host(final), Host(dx), Host(ddt), Host(da), Host(db), Host(dc), Host(dd), s.Init || s.Final ? Host(dinit) : null];
    }

    private static double[] Host(Tensor t)
    {
        var cpu = t.Device.Kind == DeviceKind.Cpu ? t : t.To(Device.Cpu);
        return Operations.Ops.Cast(cpu, DType.Float64).ToArray<double>();
    }
}

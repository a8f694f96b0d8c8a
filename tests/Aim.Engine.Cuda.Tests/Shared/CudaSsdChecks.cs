// CUDA-only checks of the SSD scan engines: the forward and the chunked backward with each matrix engine of
// ssd.cu and ssd_backward.cu (fp32 FMA, TF32, 3xTF32 on the tensor cores) and the serial backward, against the float64 reference,
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
        // The PTX fragment layout and TF32 rounding of mma.cuh on their own first: if these fail, so do the SSD engines.
        yield return () => MmaTile(split: true);
        yield return () => MmaTile(split: false);
        yield return Tf32Rounding;
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
                // TF32 keeps the operands' upper 19 bits (10-bit mantissas, truncated: relative error < 2^-10 an
                // operand, NMSE of a product sum ~1e-6 for these unit-scale inputs); the float32 engines ~1e-12.
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
        k.SsdScan(x, dt, a, b, c, d, init, s.Chunk, y, final, null);
        var dx = Empty(s.B, s.L, s.H, s.P);
        var ddt = Empty(s.B, s.L, s.H);
        var da = Empty(s.H);
        var db = Empty(s.B, s.L, s.G, s.N);
        var dc = Empty(s.B, s.L, s.G, s.N);
        var dd = Empty(s.H);
        var dinit = Empty(s.B, s.H, s.P, s.N);
        k.SsdScanBackward(x, dt, a, b, c, d, init, gy, gf, null, 0, dx, ddt, da, db, dc, dd, dinit);
        var outputs = new[] { y, final, dx, ddt, da, db, dc, dd }.Select(CudaHarness.HostDoubles).ToList();
        return [.. outputs, s.Init || s.Final ? CudaHarness.HostDoubles(dinit) : null];
    }

    // One warp: A (16×8) and B (8×8, k × n) row-major in global memory, loaded into mma.cuh's fragments as ssd_tiles.cuh's
    // tile_gemm does, D = A·B (16×8) stored from the accumulator fragment; split as tile_gemm's 3xTF32 engine.
    private const string MmaSource = """
        #include "common.cuh"
        #include "mma.cuh"
        extern "C" __global__ void mma_tile_check(const float* A, const float* B, float* D, int split)
        {
            int lane = threadIdx.x, g = lane / 4, t = lane % 4;
            float av[4] = {A[g * 8 + t], A[(g + 8) * 8 + t], A[g * 8 + t + 4], A[(g + 8) * 8 + t + 4]};
            float bv[2] = {B[t * 8 + g], B[(t + 4) * 8 + g]};
            unsigned ahi[4], alo[4], bhi[2], blo[2];
            for (int i = 0; i < 4; i++) split_tf32(av[i], ahi[i], alo[i]);
            for (int i = 0; i < 2; i++) split_tf32(bv[i], bhi[i], blo[i]);
            float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (split)
            {
                mma_tf32_16x8x8(d, alo, bhi);
                mma_tf32_16x8x8(d, ahi, blo);
            }
            mma_tf32_16x8x8(d, ahi, bhi);
            D[g * 8 + 2 * t] = d[0];
            D[g * 8 + 2 * t + 1] = d[1];
            D[(g + 8) * 8 + 2 * t] = d[2];
            D[(g + 8) * 8 + 2 * t + 1] = d[3];
        }
        extern "C" __global__ void tf32_round_check(const float* x, unsigned* y, int n)
        {
            for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = f32_to_tf32(x[i]);
        }
        """;

    private static CudaCaseResult MmaTile(bool split)
    {
        string name = $"Mma.tf32-16x8x8({(split ? "3xTF32" : "TF32")}, fragment layout)";
        return CudaHarness.Guard(name, () =>
        {
            var backend = (CudaBackend)Backend.For(CudaHarness.Device);
            var rng = new Rng(OpCase.SeedOf(name));
            var a = rng.Normal([16, 8]).ToArray<float>();
            var b = rng.Normal([8, 8]).ToArray<float>();
            var want = new double[16 * 8];
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < 8; j++)
                    for (int k = 0; k < 8; k++) want[i * 8 + j] += (double)a[i * 8 + k] * b[k * 8 + j];
            var da = Tensor.FromArray(a, [16, 8], CudaHarness.Device);
            var db = Tensor.FromArray(b, [8, 8], CudaHarness.Device);
            var dd = Tensor.Zeros([16, 8], DType.Float32, CudaHarness.Device);
            var f = backend.CudaKernels.FunctionFromSource("mma_check.cu", MmaSource, "mma_tile_check");
            var args = new KernelArgs(stackalloc byte[64], stackalloc nint[4]);
            args.Add(CudaKernels.Ptr(da));
            args.Add(CudaKernels.Ptr(db));
            args.Add(CudaKernels.Ptr(dd));
            args.Add(split ? 1 : 0);
            backend.CudaKernels.Launch(f, 1, 32, 0, args);
            var got = dd.ToArray<float>().Select(v => (double)v).ToArray();
            var (nmse, maxAbs) = Harness.Error(want, got);
            // A register in the wrong place gives NMSE near 1; 3xTF32 keeps about 21 bits, one TF32 product 11.
            double limit = split ? 1e-10 : 1e-5;
            bool ok = nmse <= limit;
            return new CudaCaseResult(name, ok ? "pass" : "FAIL", nmse, $"nmse={nmse:E2} maxabs={maxAbs:E2} (limit {limit:E0})");
        });
    }

    private static CudaCaseResult Tf32Rounding()
    {
        const string name = "Mma.f32_to_tf32(round to nearest, ties away)";
        return CudaHarness.Guard(name, () =>
        {
            var backend = (CudaBackend)Backend.For(CudaHarness.Device);
            // Ties (low 13 bits exactly 0x1000) of both signs, values just below and above them, and random floats.
            var values = new List<float>();
            foreach (uint bits in new uint[] { 0x3F801000, 0xBF801000, 0x3F800FFF, 0x3F801001, 0x3F803000, 0x7F7FF000, 0x00001000, 0 })
                values.Add(BitConverter.UInt32BitsToSingle(bits));
            var rng = new Rng(OpCase.SeedOf(name));
            values.AddRange(rng.Normal([248]).ToArray<float>());
            var x = Tensor.FromArray(values.ToArray(), [values.Count], CudaHarness.Device);
            var y = Tensor.Zeros([values.Count], DType.Int32, CudaHarness.Device);
            var f = backend.CudaKernels.FunctionFromSource("mma_check.cu", MmaSource, "tf32_round_check");
            var args = new KernelArgs(stackalloc byte[32], stackalloc nint[3]);
            args.Add(CudaKernels.Ptr(x));
            args.Add(CudaKernels.Ptr(y));
            args.Add(values.Count);
            backend.CudaKernels.Launch(f, 1, 256, 0, args);
            var got = y.ToArray<int>();
            int wrong = 0;
            string first = "";
            for (int i = 0; i < values.Count; i++)
            {
                uint u = BitConverter.SingleToUInt32Bits(values[i]);
                // cvt.rna.tf32.f32: the upper 19 bits rounded to nearest, ties away from zero (the tensor cores read only
                // those; the low 13 bits of the container are not compared).
                uint want = (u & 0x7f800000u) == 0x7f800000u ? u & 0xffffe000u : (u + 0x1000u) & 0xffffe000u;
                if (((uint)got[i] & 0xffffe000u) != want)
                {
                    if (wrong++ == 0) first = $"; first: {u:X8} -> {(uint)got[i]:X8}, want {want:X8}";
                }
            }
            return new CudaCaseResult(name, wrong == 0 ? "pass" : "FAIL", wrong, $"{wrong} of {values.Count} differ{first}");
        });
    }
}

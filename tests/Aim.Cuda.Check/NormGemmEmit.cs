// `--emit-norm-gemm DIR`: writes GatedRmsNormMatMul cases for the CUDA-on-CPU emulation runner
// (tests/cuda-emulation/normgemm_check.cpp). Inputs are drawn as in tests/Aim.BackendOps/OpCases.NormLinear.cs
// (x, z ~ N(0, 1), norm weight U(0.5, 1.5), weight ~ N(0, 1) rounded to bf16) in float32; the reference outputs come
// from ReferenceKernels on float64 copies (the bf16 weight widened exactly): GatedRmsNormMatMul, and the plain product
// x · Wᵀ (Gemm) for the runner's check of skinny_gemm_bf16 itself.
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name M K N groupSize
// and a folder DIR/name with raw little-endian files, row-major, contiguous:
//   float32 inputs:  x (M,K), z (M,K), nw (K); bf16 (uint16 bits): w (N,K)
//   float64 outputs: out (M,N) = GatedRmsNormMatMul(x, z, nw, 1e-5, groupSize, w); gemm (M,N) = x · Wᵀ
using Aim.BackendOps;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes GatedRmsNormMatMul cases with float64 reference outputs for the CUDA emulation runner.</summary>
internal static class NormGemmEmit
{
    /// <summary>The eps every case uses (the runner passes the same).</summary>
    public const double Eps = 1e-5;

    private sealed record Case(string Name, int M, int K, int N, int GroupSize);

    // Odd K (scalar paths), K % 8 == 0 (float4 / 16-byte weight chunks), group sizes whose norm.cu thread counts are
    // 32 (≤ 128), 128 (384), 256 (768) and 512 (1536: two virtual threads per thread), N from 1 to 768 (split 1..4 on
    // 132 SMs), M up to 16 rows; AiM-B's out_proj at batch 1 and 2.
    private static Case[] Cases =>
    [
        new("m1_k8_n1", 1, 8, 1, 8),
        new("m2_k24_n7_g12", 2, 24, 7, 12),
        new("m3_k31_n7", 3, 31, 7, 31),
        new("m3_k7_n1", 3, 7, 1, 7),
        new("m16_k24_n768_g12", 16, 24, 768, 12),
        new("m7_k257_n31", 7, 257, 31, 257),
        new("m16_k8_n7", 16, 8, 7, 8),
        new("m4_k1536_n33_g384", 4, 1536, 33, 384),
        new("m2_k1536_n768_g768", 2, 1536, 768, 768),
        new("aim_m1_k1536_n768", 1, 1536, 768, 1536),
    ];

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        var reference = new ReferenceKernels();
        return WriteCases(dir, "GatedRmsNormMatMul", "name M K N groupSize (inputs .f32 / .bf16, float64 reference outputs .f64)", 0x4E6DUL, Cases, s => s.Name, (s, at, rng) =>
        {
            var x = OpCases.Randn(rng, s.M, s.K);
            var z = OpCases.Randn(rng, s.M, s.K);
            var nw = OpCases.Rand(rng, 0.5, 1.5, s.K);
            var w = Ops.Cast(OpCases.Randn(rng, s.N, s.K), DType.BFloat16);
            Write(at, "x.f32", x.ToArray<float>());
            Write(at, "z.f32", z.ToArray<float>());
            Write(at, "nw.f32", nw.ToArray<float>());
            Write(at, "w.bf16", w.ToArray<BFloat16>());

            Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
            var w64 = F64(w);
            var x64 = F64(x);
            var outRef = Tensor.Empty([s.M, s.N], DType.Float64);
            reference.GatedRmsNormMatMul(x64, F64(z), F64(nw), Eps, s.GroupSize, w64, outRef);
            Write(at, "out.f64", outRef.ToArray<double>());
            var gemmRef = Tensor.Empty([1, s.M, s.N], DType.Float64);
            reference.Gemm(Ops.Reshape(x64, 1, s.M, s.K), Ops.Reshape(w64, 1, s.N, s.K), gemmRef, false, true, 1.0, 0.0);
            Write(at, "gemm.f64", gemmRef.ToArray<double>());
            Console.WriteLine($"emit {s.Name}: M={s.M} K={s.K} N={s.N} groupSize={s.GroupSize}");
            return string.Join(' ', s.Name, I(s.M), I(s.K), I(s.N), I(s.GroupSize));
        });
    }
}

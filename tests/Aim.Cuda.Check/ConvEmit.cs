// `--emit-conv DIR`: writes CausalConv1d forward + backward cases for the CUDA-on-CPU emulation runner
// (tests/cuda-emulation/conv_check.cpp). Inputs are float32 (x, dy ~ N(0, 1), weight and bias U(-0.5, 0.5)); the
// reference outputs come from ReferenceKernels.CausalConv1d / CausalConv1dBackward on float64 copies.
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name B L C K hasBias silu
// and a folder DIR/name with raw little-endian files, row-major, contiguous:
//   float32 inputs:   x (B,L,C), w (C,K), [bias (C)], dy (B,L,C)
//   float64 outputs:  y (B,L,C), dx (B,L,C), dw (C,K), [dbias (C)]
using Aim.BackendOps;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes CausalConv1d cases with float64 reference outputs for the CUDA emulation runner.</summary>
internal static class ConvEmit
{
    private sealed record Case(string Name, int B, int L, int C, int K, bool Bias, bool Silu);

    // Odd sizes; L = 1 and a chunk remainder; C below, at and above the 32-channel tile and the 128-channel block;
    // L below, at and past the 16-step time run; K 1, 3, 4 and the most taps (8); AiM-B's conv width (C = 1792) at a
    // short sequence and at AiM-B's full sequence (L = 256: one backward row block of 8 × 32 steps); several backward
    // row blocks per batch row with a remainder (L = 600); K = 2.
    private static Case[] Cases =>
    [
        new("b1_l1_c1_k4", 1, 1, 1, 4, true, true),
        new("b2_l7_c33_k3", 2, 7, 33, 3, false, true),
        new("b3_l31_c32_k4_nosilu", 3, 31, 32, 4, true, false),
        new("b2_l257_c65_k4", 2, 257, 65, 4, true, true),
        new("aim_b2_l64_c1792_k4", 2, 64, 1792, 4, true, true),
        new("b2_l40_c7_k8", 2, 40, 7, 8, true, true),
        new("b1_l17_c130_k1_nosilu", 1, 17, 130, 1, false, false),
        new("aim_b1_l256_c1792_k4", 1, 256, 1792, 4, true, true),
        new("b2_l600_c40_k4", 2, 600, 40, 4, true, true),
        new("b3_l50_c9_k2_nosilu", 3, 50, 9, 2, true, false),
    ];

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        var reference = new ReferenceKernels();
        return WriteCases(dir, "CausalConv1d", "name B L C K hasBias silu (inputs .f32, float64 reference outputs .f64)", 0xC0171UL, Cases, s => s.Name, (s, at, rng) =>
        {
            var x = OpCases.Randn(rng, s.B, s.L, s.C);
            var w = OpCases.Rand(rng, -0.5, 0.5, s.C, s.K);
            var bias = s.Bias ? OpCases.Rand(rng, -0.5, 0.5, s.C) : null;
            var dy = OpCases.Randn(rng, s.B, s.L, s.C);
            WriteF32(at, "x", x);
            WriteF32(at, "w", w);
            if (bias is not null) WriteF32(at, "bias", bias);
            WriteF32(at, "dy", dy);

            Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
            var (x64, w64, dy64) = (F64(x), F64(w), F64(dy));
            var b64 = bias is null ? null : F64(bias);
            var y = Tensor.Empty([s.B, s.L, s.C], DType.Float64);
            reference.CausalConv1d(x64, w64, b64, s.Silu, y);
            var dx = Tensor.Empty([s.B, s.L, s.C], DType.Float64);
            var dw = Tensor.Empty([s.C, s.K], DType.Float64);
            var db = s.Bias ? Tensor.Empty([s.C], DType.Float64) : null;
            reference.CausalConv1dBackward(x64, w64, b64, s.Silu, dy64, dx, dw, db);
            WriteF64(at, "y", y);
            WriteF64(at, "dx", dx);
            WriteF64(at, "dw", dw);
            if (db is not null) WriteF64(at, "dbias", db);
            Console.WriteLine($"emit {s.Name}: B={s.B} L={s.L} C={s.C} K={s.K}");
            return string.Join(' ', s.Name, I(s.B), I(s.L), I(s.C), I(s.K), F(s.Bias), F(s.Silu));
        });
    }
}

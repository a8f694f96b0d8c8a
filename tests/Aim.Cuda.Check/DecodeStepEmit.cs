// `--emit-decode-step DIR`: writes ConvSsmStep cases for the CUDA-on-CPU emulation runner
// (tests/cuda-emulation/decode_step_check.cpp). Inputs are drawn as in tests/Aim.BackendOps/OpCases.DecodeStep.cs
// (states, xbc ~ N(0, 1) / N(0, 0.5), conv weight and bias U(-0.5, 0.5), raw dt U(-6, 26) so dt + dtBias spans the
// softplus pass-through threshold 20, dtBias U(-2, 2), a = -U(1, 16), d ~ N(0, 1)) in float32; the reference
// outputs come from ReferenceKernels.ConvSsmStep on float64 copies of those inputs, applied twice with the same xbc
// and dt (the second step checks that a launch leaves the kernel's arrival counters ready for the next one).
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name B H G P N K hasBias hasD
// and a folder DIR/name with raw little-endian files, row-major, contiguous (C = H·P + 2·G·N):
//   float32 inputs:   conv (B,C,K), xbc (B,C), w (C,K), [bias (C)], ssm (B,H,P,N), dt (B,H), dtbias (H), a (H), [d (H)]
//   float64 outputs:  after step 1: y1 (B,H,P), conv1 (B,C,K), ssm1 (B,H,P,N); after step 2: y2, conv2, ssm2
using Aim.BackendOps;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes ConvSsmStep cases with float64 reference outputs for the CUDA emulation runner.</summary>
internal static class DecodeStepEmit
{
    private sealed record Case(string Name, int B, int H, int G, int P, int N, int K, bool Bias, bool D);

    // Odd sizes; P above one block's 8 rows with a partial last slice (P = 20), N above a warp (33); K 3 and 4; G 1
    // and 2; AiM's batch-1 shape; and B·H ≥ 2·132 (the H200's SM count), where the launch gives each warp P/8 rows.
    private static Case[] Cases =>
    [
        new("b1_h1_p1_n1_k4", 1, 1, 1, 1, 1, 4, true, true),
        new("b2_h3_p7_n5_k3", 2, 3, 1, 7, 5, 3, false, false),
        new("b3_h24_g2_p7_n5", 3, 24, 2, 7, 5, 4, true, true),
        new("b2_h4_g2_p20_n33_k3", 2, 4, 2, 20, 33, 3, true, false),
        new("aim_b1_h24_p64_n128", 1, 24, 1, 64, 128, 4, true, true),
        new("b12_h24_g2_p64_n16_wide", 12, 24, 2, 64, 16, 4, true, true),
    ];

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        var reference = new ReferenceKernels();
        return WriteCases(dir, "ConvSsmStep", "name B H G P N K hasBias hasD (inputs .f32, float64 reference outputs .f64)", 0xDEC0UL, Cases, s => s.Name, (s, at, rng) =>
        {
            int c = s.H * s.P + 2 * s.G * s.N;
            var conv = OpCases.Randn(rng, s.B, c, s.K);
            var xbc = OpCases.Randn(rng, s.B, c);
            var w = OpCases.Rand(rng, -0.5, 0.5, c, s.K);
            var bias = s.Bias ? OpCases.Rand(rng, -0.5, 0.5, c) : null;
            var ssm = rng.Normal([s.B, s.H, s.P, s.N], 0, 0.5);
            var dt = OpCases.Rand(rng, -6, 26, s.B, s.H);
            var dtBias = OpCases.Rand(rng, -2, 2, s.H);
            var a = OpCases.RandA(rng, s.H);
            var d = s.D ? OpCases.Randn(rng, s.H) : null;
            foreach (var (name, t) in new (string, Tensor?)[] { ("conv", conv), ("xbc", xbc), ("w", w), ("bias", bias), ("ssm", ssm), ("dt", dt), ("dtbias", dtBias), ("a", a), ("d", d) })
                if (t is not null) WriteF32(at, name, t);

            Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
            Tensor? F64N(Tensor? t) => t is null ? null : F64(t);
            var (conv64, ssm64) = (F64(conv), F64(ssm));
            for (int step = 1; step <= 2; step++)
            {
                var y = Tensor.Empty([s.B, s.H, s.P], DType.Float64);
                reference.ConvSsmStep(conv64, F64(xbc), F64(w), F64N(bias), ssm64, F64(dt), F64(dtBias), F64(a), F64N(d), y);
                WriteF64(at, "y" + step, y);
                WriteF64(at, "conv" + step, conv64);
                WriteF64(at, "ssm" + step, ssm64);
            }
            Console.WriteLine($"emit {s.Name}: B={s.B} H={s.H} G={s.G} P={s.P} N={s.N} K={s.K}");
            return string.Join(' ', s.Name, I(s.B), I(s.H), I(s.G), I(s.P), I(s.N), I(s.K), F(s.Bias), F(s.D));
        });
    }
}

// `--emit-decode-layer DIR`: writes MambaDecodeLayer cases for the CUDA-on-CPU emulation runner
// (tests/cuda-emulation/decode_layer_check.cpp). Inputs are drawn as in tests/Aim.BackendOps/OpCases.DecodeLayer.cs
// (hidden, residual ~ N(0, 1), gate U(-1, 1), norm weights and 1 + scale U(0.5, 1.5), shift U(-0.5, 0.5), in_proj ~
// N(0, 1/d) and out_proj ~ N(0, 1/E) rounded to bf16, conv state ~ N(0, 1), conv weight / bias U(-0.5, 0.5), SSM state
// N(0, 0.5), dtBias U(-2, 2), a = -U(1, 16), d ~ N(0, 1)) in float32; the reference outputs come from
// ReferenceKernels.MambaDecodeLayer on float64 copies (bf16 weights widened exactly), applied twice with the same
// hidden / gate / residual (the second launch checks that the grid-barrier words are left ready for the next one).
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name R D H G P N K first hasBias hasD
// and a folder DIR/name with raw little-endian files, row-major, contiguous (E = H·P, C = E + 2·G·N, Dp = E + C + H):
//   float32 inputs:  hidden (R,D), [gate (R,D), res (R,D) unless first], nw (D), s1p (R,D), shift (R,D), conv (R,C,K),
//                    cw (C,K), [cb (C)], ssm (R,H,P,N), dtbias (H), a (H), [d (H)], gnw (E)
//   bf16 (uint16 bits): win (Dp,D), wout (D,E)
//   float64 outputs: per step s = 1, 2: y{s} (R,D), res{s} (R,D), conv{s} (R,C,K), ssm{s} (R,H,P,N)
using Aim.BackendOps;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes MambaDecodeLayer cases with float64 reference outputs for the CUDA emulation runner.</summary>
internal static class DecodeLayerEmit
{
    private sealed record Case(string Name, int R, int D, int H, int G, int P, int N, int K, bool First, bool Bias, bool Skip);

    // Odd sizes (scalar weight streams: d and E not multiples of 8), G 2 and a partial P slice, and AiM-B's layer at
    // batch 1 with CFG (R = 2, d = 768, H = 24, P = 64, N = 128), first block and a later one.
    private static Case[] Cases =>
    [
        new("r1_d7_h1_p3_n5_first", 1, 7, 1, 1, 3, 5, 4, true, true, true),
        new("r2_d31_h3_p2_n5_k3", 2, 31, 3, 1, 2, 5, 3, false, false, false),
        new("r3_d40_h4_g2_p20_n33", 3, 40, 4, 2, 20, 33, 4, false, true, true),
        new("r8_d64_h2_p16_n16", 8, 64, 2, 1, 16, 16, 4, false, true, true),
        new("aim_b_r2_first", 2, 768, 24, 1, 64, 128, 4, true, true, true),
        new("aim_b_r2", 2, 768, 24, 1, 64, 128, 4, false, true, true),
    ];

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        var reference = new ReferenceKernels();
        return WriteCases(dir, "MambaDecodeLayer", "name R D H G P N K first hasBias hasD (inputs .f32 / .bf16, float64 reference outputs .f64)",
            0xDEC1UL, Cases, s => s.Name, (s, at, rng) =>
        {
            int e = s.H * s.P, c = e + 2 * s.G * s.N, dp = e + c + s.H;
            var hidden = OpCases.Randn(rng, s.R, s.D);
            var gate = OpCases.Rand(rng, -1, 1, s.R, s.D);
            var res = OpCases.Randn(rng, s.R, s.D);
            var nw = OpCases.Rand(rng, 0.5, 1.5, s.D);
            var s1p = OpCases.Rand(rng, 0.5, 1.5, s.R, s.D);
            var shift = OpCases.Rand(rng, -0.5, 0.5, s.R, s.D);
            var win = Ops.Cast(rng.Normal([dp, s.D], 0, 1 / Math.Sqrt(s.D)), DType.BFloat16);
            var conv = OpCases.Randn(rng, s.R, c, s.K);
            var cw = OpCases.Rand(rng, -0.5, 0.5, c, s.K);
            var cb = OpCases.Rand(rng, -0.5, 0.5, c);
            var ssm = rng.Normal([s.R, s.H, s.P, s.N], 0, 0.5);
            var dtBias = OpCases.Rand(rng, -2, 2, s.H);
            var a = OpCases.RandA(rng, s.H);
            var d = OpCases.Randn(rng, s.H);
            var gnw = OpCases.Rand(rng, 0.5, 1.5, e);
            var wout = Ops.Cast(rng.Normal([s.D, e], 0, 1 / Math.Sqrt(e)), DType.BFloat16);
            Tensor? gateIn = s.First ? null : gate, resIn = s.First ? null : res, cbIn = s.Bias ? cb : null, dIn = s.Skip ? d : null;
            foreach (var (name, t) in new (string, Tensor?)[] { ("hidden", hidden), ("gate", gateIn), ("res", resIn), ("nw", nw), ("s1p", s1p),
                         ("shift", shift), ("conv", conv), ("cw", cw), ("cb", cbIn), ("ssm", ssm), ("dtbias", dtBias), ("a", a), ("d", dIn), ("gnw", gnw) })
                if (t is not null) WriteF32(at, name, t);
            Write(at, "win.bf16", win.ToArray<BFloat16>());
            Write(at, "wout.bf16", wout.ToArray<BFloat16>());

            Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
            Tensor? F64N(Tensor? t) => t is null ? null : F64(t);
            var (conv64, ssm64) = (F64(conv), F64(ssm));
            for (int step = 1; step <= 2; step++)
            {
                var y = Tensor.Empty([s.R, s.D], DType.Float64);
                var resOut = Tensor.Empty([s.R, s.D], DType.Float64);
                reference.MambaDecodeLayer(F64(hidden), F64N(gateIn), F64N(resIn), F64(nw), 1e-5, F64(s1p), F64(shift), F64(win), conv64, F64(cw),
                    F64N(cbIn), ssm64, F64(dtBias), F64(a), F64N(dIn), F64(gnw), 1e-5, e / s.G, F64(wout), y, resOut);
                WriteF64(at, "y" + step, y);
                WriteF64(at, "res" + step, resOut);
                WriteF64(at, "conv" + step, conv64);
                WriteF64(at, "ssm" + step, ssm64);
            }
            Console.WriteLine($"emit {s.Name}: R={s.R} d={s.D} H={s.H} G={s.G} P={s.P} N={s.N} K={s.K}");
            return string.Join(' ', s.Name, I(s.R), I(s.D), I(s.H), I(s.G), I(s.P), I(s.N), I(s.K), F(s.First), F(s.Bias), F(s.Skip));
        });
    }
}

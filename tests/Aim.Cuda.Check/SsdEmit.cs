// `--emit-ssd DIR`: writes SsdScan / SsdScanBackward cases for the CUDA-on-CPU emulation runner
// (tests/cuda-emulation/ssd_check.cpp). Inputs are drawn as in tests/Aim.BackendOps/OpCases.Ssm.cs (x, b, c, dY,
// dFinal ~ N(0, 1), dt log-uniform in (0.001, 0.1), a = -U(1, 16), d ~ N(0, 1), initial state ~ N(0, 0.5)) in
// float32; the reference outputs come from ReferenceKernels run on the float64 copies of those float32 inputs, so
// they are the exact-arithmetic answer for the float32 inputs up to float64 rounding. No GPU is needed.
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name B L H G P N chunk hasD hasInit hasDFinal hasBackward
// and a folder DIR/name with raw little-endian files, row-major, contiguous:
//   float32 inputs:   x (B,L,H,P), dt (B,L,H), a (H), b (B,L,G,N), c (B,L,G,N), [d (H)], [init (B,H,P,N)],
//                     dy (B,L,H,P), [dfinal (B,H,P,N)]                                       -> NAME.f32
//   float64 outputs:  y (B,L,H,P), final (B,H,P,N); with hasBackward also dx, ddt, da, db, dc, dd (H, computed
//                     whether or not d is given), dinit (B,H,P,N, computed whether or not init is given), and
//                     states64 (B,H,⌈L/64⌉,P,N), the chunk states S_in of the forward at the CUDA backward's chunk
//                     (SsdBackwardChunk = 64) that a recorded forward hands to the backward          -> NAME.f64
using Aim.BackendOps;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes SSD scan cases with float64 reference outputs for the CUDA emulation runner.</summary>
internal static class SsdEmit
{
    private sealed record Case(string Name, int B, int L, int H, int G, int P, int N, int Chunk, bool D, bool Init, bool DFinal, bool Backward);

    // Odd sizes, several chunk remainders (L = 1, 7, 257 with chunk 64; chunk 4 over L = 7), G = 1 and 2 with H = 4,
    // several 64-wide tiles in P, N and the chunk (the serial backward, P ≤ 64 and N ≤ 128, skips those), AiM's head
    // shape, and for the head loop of ssd_bwd_dc / ssd_bwd_db one head a group (H = G = 3), 3 heads a group over 2
    // groups and 8 heads in one group.
    private static Case[] Cases =>
    [
        new("l1_p3_n5_g2", 1, 1, 4, 2, 3, 5, 64, true, true, true, true),
        new("l7_p3_n5_g1", 2, 7, 4, 1, 3, 5, 64, true, false, true, true),
        new("l7_p8_n16_g2_chunk4", 1, 7, 4, 2, 8, 16, 4, false, true, false, true),
        new("l257_p3_n5_g1", 1, 257, 4, 1, 3, 5, 64, true, true, true, true),
        new("l257_p5_n3_g2", 2, 257, 4, 2, 5, 3, 64, true, false, false, true),
        new("l200_p40_n100_g1_chunk128", 1, 200, 2, 1, 40, 100, 128, true, true, true, true),
        new("l100_p70_n20_g2", 1, 100, 4, 2, 70, 20, 64, true, true, false, true),
        new("l130_p65_n130_g1", 1, 130, 2, 1, 65, 130, 64, true, true, true, true),
        new("aim_l256_h4_p64_n128", 1, 256, 4, 1, 64, 128, 64, true, false, false, true),
        new("l70_p16_n24_h3_g3", 2, 70, 3, 3, 16, 24, 64, true, true, true, true),
        new("l90_p20_n72_h6_g2", 1, 90, 6, 2, 20, 72, 64, true, true, true, true),
        new("l64_p8_n8_h8_g1", 1, 64, 8, 1, 8, 8, 64, false, true, true, true),
    ];

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        var reference = new ReferenceKernels();
        return WriteCases(dir, "SSD", "name B L H G P N chunk hasD hasInit hasDFinal hasBackward (inputs .f32, float64 reference outputs .f64)", 0x55D0UL, Cases, s => s.Name, (s, at, rng) =>
        {
            var x = OpCases.Randn(rng, s.B, s.L, s.H, s.P);
            var dt = OpCases.RandDt(rng, s.B, s.L, s.H);
            var a = OpCases.RandA(rng, s.H);
            var b = OpCases.Randn(rng, s.B, s.L, s.G, s.N);
            var c = OpCases.Randn(rng, s.B, s.L, s.G, s.N);
            var d = s.D ? OpCases.Randn(rng, s.H) : null;
            var init = s.Init ? rng.Normal([s.B, s.H, s.P, s.N], 0, 0.5) : null;
            var dy = OpCases.Randn(rng, s.B, s.L, s.H, s.P);
            var dfinal = s.DFinal ? OpCases.Randn(rng, s.B, s.H, s.P, s.N) : null;
            foreach (var (name, t) in new (string, Tensor?)[] { ("x", x), ("dt", dt), ("a", a), ("b", b), ("c", c), ("d", d), ("init", init), ("dy", dy), ("dfinal", dfinal) })
                if (t is not null) WriteF32(at, name, t);

            Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
            Tensor? F64N(Tensor? t) => t is null ? null : F64(t);
            Tensor Out(params int[] shape) => Tensor.Empty(shape, DType.Float64);
            var (x64, dt64, a64, b64, c64, d64, init64) = (F64(x), F64(dt), F64(a), F64(b), F64(c), F64N(d), F64N(init));
            var y = Out(s.B, s.L, s.H, s.P);
            var final = Out(s.B, s.H, s.P, s.N);
            reference.SsdScan(x64, dt64, a64, b64, c64, d64, init64, s.Chunk, y, final, null);
            WriteF64(at, "y", y);
            WriteF64(at, "final", final);
            if (s.Backward)
            {
                var dx = Out(s.B, s.L, s.H, s.P);
                var ddt = Out(s.B, s.L, s.H);
                var da = Out(s.H);
                var db = Out(s.B, s.L, s.G, s.N);
                var dc = Out(s.B, s.L, s.G, s.N);
                var dd = Out(s.H);
                var dinit = Out(s.B, s.H, s.P, s.N);
                reference.SsdScanBackward(x64, dt64, a64, b64, c64, d64, init64, F64(dy), F64N(dfinal), null, 0, dx, ddt, da, db, dc, dd, dinit);
                foreach (var (name, t) in new[] { ("dx", dx), ("ddt", ddt), ("da", da), ("db", db), ("dc", dc), ("dd", dd), ("dinit", dinit) })
                    WriteF64(at, name, t);
                const int backwardChunk = 64;
                var states = Out(s.B, s.H, (s.L + backwardChunk - 1) / backwardChunk, s.P, s.N);
                reference.SsdScan(x64, dt64, a64, b64, c64, d64, init64, backwardChunk, Out(s.B, s.L, s.H, s.P), Out(s.B, s.H, s.P, s.N), states);
                WriteF64(at, "states64", states);
            }
            Console.WriteLine($"emit {s.Name}: B={s.B} L={s.L} H={s.H} G={s.G} P={s.P} N={s.N} chunk={s.Chunk}");
            return string.Join(' ', s.Name, I(s.B), I(s.L), I(s.H), I(s.G), I(s.P), I(s.N), I(s.Chunk), F(s.D), F(s.Init), F(s.DFinal), F(s.Backward));
        });
    }
}

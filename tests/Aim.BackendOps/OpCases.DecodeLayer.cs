using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for MambaDecodeLayer (IKernels.DecodeLayer.cs), one whole Mamba-2 block of a decode step: the
// mixer output y, the new residual stream and both updated states (the caches are cloned before the call), compared
// with the reference composition. Sizes: odd widths (d 7/31/257, E 3..14, N 1/5/4) and AiM-B's (R 2, d 768, H 24,
// P 64, N 128, K 4); the first block (no gate, no residual) and later ones; with and without conv bias and D; f32 and
// bf16 weights; R = 4 and 9 rows. On CUDA the bf16 cases with one gated-norm group and at most 4 rows take the
// four-kernel path of CudaKernels.DecodeLayer.cs, the G = 2 one and the 9-row one the six-kernel composition (cuBLAS
// products above 4 rows). Projections are scaled by 1/sqrt(fan-in) so dt stays in softplus's curved range and the
// states stay O(1).
// Tolerance: the default NMSE 1e-10 on every output (float32 against the reference's double accumulation: about
// 1e-14), except CUDA's bf16 cases above CudaBf16ExactRows rows: cuBLAS there rounds the products' activations to
// bf16 (OpCases.Bf16Weights' limit, 1e-4).
public static partial class OpCases
{
    /// <summary>One MambaDecodeLayer configuration (E = H·P, C = E + 2·G·N).</summary>
    private sealed record DecodeLayerConfig(int R, int D, int H, int G, int P, int N, int K, bool First, bool Bias, bool Skip, bool Bf16)
    {
        public int E => H * P;
        public int C => E + 2 * G * N;

        public override string ToString()
            => $"R={R},d={D},H={H},G={G},P={P},N={N},K={K}{(First ? ",first" : "")}{(Bias ? ",bias" : "")}{(Skip ? ",D" : "")}{(Bf16 ? ",bf16W" : "")}";
    }

    private static DecodeLayerConfig[] DecodeLayerConfigs =>
    [
        new(1, 7, 1, 1, 3, 5, 4, true, true, true, false),
        new(2, 31, 3, 1, 2, 5, 3, false, false, false, true),
        new(3, 257, 2, 2, 7, 4, 4, false, true, true, true),
        new(1, 16, 2, 2, 4, 1, 2, false, true, false, false),
        new(2, 768, 24, 1, 64, 128, 4, true, true, true, true),
        new(2, 768, 24, 1, 64, 128, 4, false, true, true, true),
        new(4, 24, 2, 1, 8, 16, 4, false, true, true, true),
        new(9, 24, 2, 1, 8, 16, 4, false, true, true, true),
    ];

    /// <summary>MambaDecodeLayer: y, residualOut, the updated conv state and the updated SSM state, target vs reference.</summary>
    public static IEnumerable<OpCase> MambaDecodeLayer()
    {
        foreach (var s in DecodeLayerConfigs)
        {
            int dp = s.E + s.C + s.H;
            yield return new OpCase("MambaDecodeLayer", s.ToString(), rng =>
                [Randn(rng, s.R, s.D), Rand(rng, -1, 1, s.R, s.D), Randn(rng, s.R, s.D), Rand(rng, 0.5, 1.5, s.D),
                 Rand(rng, 0.5, 1.5, s.R, s.D), Rand(rng, -0.5, 0.5, s.R, s.D), rng.Normal([dp, s.D], 0, 1 / Math.Sqrt(s.D)),
                 Randn(rng, s.R, s.C, s.K), Rand(rng, -0.5, 0.5, s.C, s.K), Rand(rng, -0.5, 0.5, s.C),
                 rng.Normal([s.R, s.H, s.P, s.N], 0, 0.5), Rand(rng, -2, 2, s.H), RandA(rng, s.H), Randn(rng, s.H),
                 Rand(rng, 0.5, 1.5, s.E), rng.Normal([s.D, s.E], 0, 1 / Math.Sqrt(s.E))],
                t =>
                {
                    var convState = Ops.Clone(t[7]);
                    var ssmState = Ops.Clone(t[10]);
                    var inProj = s.Bf16 ? Ops.Cast(t[6], DType.BFloat16) : t[6];     // (E + C + H, d)
                    var outProj = s.Bf16 ? Ops.Cast(t[15], DType.BFloat16) : t[15];  // (d, E)
                    var (y, residualOut) = Ops.MambaDecodeLayer(t[0], s.First ? null : t[1], s.First ? null : t[2], t[3], 1e-5, t[4], t[5],
                        inProj, convState, t[8], s.Bias ? t[9] : null, ssmState, t[11], t[12], s.Skip ? t[13] : null, t[14], 1e-5, s.E / s.G, outProj);
                    return [y, residualOut, convState, ssmState];
                }) { HasGradient = false, CudaMaxNmse = s.Bf16 && s.R > CudaBf16ExactRows ? 1e-4 : null };
        }
    }
}

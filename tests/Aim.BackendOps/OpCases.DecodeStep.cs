using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the decode-step op (IKernels.DecodeStep.cs): ConvSsmStep from random caches, its
// output y and both updated states compared with the reference (the caches are cloned before the call). Raw dt
// spans the softplus pass-through threshold (dt + dtBias from about -8 to 28), a = -U(1, 16), K 3 and 4, G 1 and 2,
// with and without conv bias and D, xbc and dt as column blocks of a wider row (in_proj's output) or contiguous.
// Tolerance: the default NMSE 1e-10 on every output (float32 vs the float64 reference gives about 1e-14).
public static partial class OpCases
{
    /// <summary>One ConvSsmStep configuration.</summary>
    private sealed record ConvSsmConfig(int B, int H, int G, int P, int N, int K, bool Bias, bool D, bool View)
    {
        public int C => H * P + 2 * G * N;

        public override string ToString()
            => $"B={B},H={H},G={G},P={P},N={N},K={K}{(Bias ? ",bias" : "")}{(D ? ",D" : "")}{(View ? ",view" : "")}";
    }

    private static ConvSsmConfig[] ConvSsmConfigs =>
    [
        new(1, 1, 1, 1, 1, 4, true, true, false),
        new(2, 3, 1, 7, 5, 3, false, false, true),
        new(3, 24, 2, 7, 5, 4, true, true, true),
        new(1, 24, 1, 64, 128, 4, true, true, true),
        new(2, 3, 1, 64, 128, 3, true, false, false),
        new(3, 1, 1, 7, 1, 4, false, true, true),
        new(2, 24, 2, 1, 128, 4, true, true, true),
        new(1, 3, 1, 64, 5, 3, false, true, false),
        new(12, 24, 2, 64, 16, 4, true, true, true),
    ];

    /// <summary>ConvSsmStep: y, the updated conv state and the updated SSM state, target vs reference.</summary>
    public static IEnumerable<OpCase> ConvSsmStep()
    {
        foreach (var s in ConvSsmConfigs)
        {
            int xbcWidth = s.View ? s.C + 5 : s.C, dtWidth = s.View ? s.H + 3 : s.H;
            yield return new OpCase("ConvSsmStep", s.ToString(), rng =>
                [Randn(rng, s.B, s.C, s.K), Randn(rng, s.B, xbcWidth), Rand(rng, -0.5, 0.5, s.C, s.K), Rand(rng, -0.5, 0.5, s.C),
                 rng.Normal([s.B, s.H, s.P, s.N], 0, 0.5), Rand(rng, -6, 26, s.B, dtWidth), Rand(rng, -2, 2, s.H), RandA(rng, s.H),
                 Randn(rng, s.H)],
                t =>
                {
                    var convState = Ops.Clone(t[0]);
                    var ssmState = Ops.Clone(t[4]);
                    var xbc = s.View ? Ops.Narrow(t[1], 1, 2, s.C) : t[1];
                    var dt = s.View ? Ops.Narrow(t[5], 1, 1, s.H) : t[5];
                    var y = Ops.ConvSsmStep(convState, xbc, t[2], s.Bias ? t[3] : null, ssmState, dt, t[6], t[7], s.D ? t[8] : null);
                    return [y, convState, ssmState];
                }) { HasGradient = false };
        }
    }
}

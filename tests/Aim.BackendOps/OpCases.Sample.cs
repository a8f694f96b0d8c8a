using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for SampleTokens (CFG mix + temperature/top-k/top-p sampling + decode-state update). Outputs are
// tokens, steps, positions and history, compared EXACTLY (MaxNmse 0). The logits are normal with scale 3
// (GuidancePair): with float32 values drawn that way, equal logits, a draw target within a few ulps of a CDF
// boundary, or a top-p cumulative mass within a few ulps of 1 − p (the only places where the backends' differently
// ordered double sums could disagree) are practically impossible (probability around 1e-12 per draw).
public static partial class OpCases
{
    private const int SampleLength = 5;

    /// <summary>SampleTokens over vocabularies of 1 to 16384, 1 to 8 images, every sampling switch, both position conventions and both ends of the sequence.</summary>
    public static IEnumerable<OpCase> SampleTokensCases()
    {
        var defaults = new SampleSettings(5, 600, 0.98, 1, 0x5A3D1EUL, 11, 1);
        (string Name, SampleSettings Settings)[] variants =
        [
            ("defaults", defaults),
            ("defaults,shift0", defaults with { PositionShift = 0 }),
            ("top-k", defaults with { TopK = 20, TopP = 1 }),
            ("top-p", defaults with { TopK = 0, TopP = 0.9, PositionShift = 0 }),
            ("neither", defaults with { TopK = 0, TopP = 1, CfgScale = 1.5 }),
            ("temperature0.7", defaults with { Temperature = 0.7, CfgScale = 2.5, PositionShift = 0 }),
        ];
        int index = 0;
        foreach (int v in new[] { 1, 7, 257, 16384 })
            foreach (int b in new[] { 1, 3, 8 })
                foreach (var (name, settings) in variants)
                {
                    int step = index++ % 2 == 0 ? 0 : SampleLength - 1;
                    yield return SampleCase($"V={v},B={b},{name},s={step}", v, b, settings, rng => Enumerable.Repeat((long)step, b).ToArray());
                }
        yield return SampleCase("V=257,B=8,defaults,mixed-steps", 257, 8, defaults with { CounterBase = ulong.MaxValue - 2 },
            rng => Enumerable.Range(0, 8).Select(_ => (long)rng.NextInt(SampleLength)).ToArray());
        yield return SampleCase("V=16384,B=3,top-p0.5,k=0", 16384, 3, defaults with { TopK = 0, TopP = 0.5 },
            rng => [1, 2, 3]);
    }

    /// <summary>
    /// (2B, V) logits like a trained model's: a shared part z ~ N(0, 3²) plus small independent parts N(0, 0.3²) for
    /// the conditional and the unconditional row, so the guided logits (≈ z) give a spread-out distribution to sample
    /// from rather than a near one-hot one.
    /// </summary>
    public static Tensor GuidancePair(Rng rng, int b, int v)
    {
        var data = new float[2 * b * v];
        for (int i = 0; i < b * v; i++)
        {
            double z = 3 * rng.NextNormal();
            data[i] = (float)(z + 0.3 * rng.NextNormal());
            data[b * v + i] = (float)(z + 0.3 * rng.NextNormal());
        }
        return Tensor.FromArray(data, [2 * b, v]);
    }

    /// <summary>
    /// Inputs: logits (2B, V), steps (2B) with rows b and B + b equal, history (B, T) of random tokens. The forward
    /// clones steps and history (updated in place) and returns tokens, steps, positions and history.
    /// </summary>
    private static OpCase SampleCase(string param, int v, int b, SampleSettings settings, Func<Rng, long[]> imageSteps)
        => new("SampleTokens", param,
            rng =>
            {
                var x = GuidancePair(rng, b, v);
                var s = imageSteps(rng);
                var steps = Tensor.FromArray([.. s, .. s], [2 * b]);
                var history = new long[b * SampleLength];
                for (int i = 0; i < history.Length; i++) history[i] = rng.NextInt(v);
                return [x, steps, Tensor.FromArray(history, [b, SampleLength])];
            },
            x =>
            {
                var steps = Ops.Clone(x[1]);
                var history = Ops.Clone(x[2]);
                var tokens = Tensor.Empty([2 * b], DType.Int64, x[0].Device);
                var positions = Tensor.Empty([2 * b], DType.Int64, x[0].Device);
                Ops.SampleTokens(x[0], steps, tokens, positions, history, settings);
                return [tokens, steps, positions, history];
            })
        { MaxNmse = 0, HasGradient = false };
}

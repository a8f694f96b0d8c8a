using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Random;

namespace Aim.Models.Generation;

/// <summary>
/// AiM's sampler (generation.sample, spec §6.4) on host logits: temperature (applied, unlike the original),
/// top-k with ties kept, top-p on the ascending sort with the maximum always kept, then one multinomial draw.
/// The uniform numbers are drawn from the seeded generator in row order before the rows are processed (in
/// parallel), so results do not depend on the thread count. The algorithm is the engine's
/// <see cref="TokenSampler"/>, the same code the SampleTokens kernels run on the host.
/// </summary>
public static class Sampler
{
    /// <summary>Samples one token per row. logits: (rows, vocab) row-major, modified in place (masked to -inf).</summary>
    public static long[] Sample(float[] logits, int rows, int vocab, SamplingOptions options, Rng rng)
    {
        var tokens = new long[rows];
        var uniforms = new double[rows];
        for (int r = 0; r < rows; r++) uniforms[r] = rng.NextDouble();
        CpuParallel.For(rows, 1, (start, end) =>
        {
            var scratch = new TokenSampler.Scratch(vocab);
            for (long r = start; r < end; r++)
                tokens[r] = TokenSampler.SampleRow(logits.AsSpan((int)r * vocab, vocab), options.TopK, options.TopP, options.Temperature, uniforms[r], scratch);
        });
        return tokens;
    }

    /// <summary>Per-thread work buffers.</summary>
    public sealed class Scratch(int vocab) : TokenSampler.Scratch(vocab);

    /// <summary>Sets every logit strictly below the k-th largest to -inf (ties at the k-th value survive).</summary>
    public static void TopK(Span<float> row, int k, float[] scratch) => TokenSampler.TopK(row, k, scratch);

    /// <summary>
    /// Sorts ascending, takes the cumulative softmax, removes entries whose cumulative mass is ≤ 1 − p, keeping the
    /// largest always (spec §6.4). Entries already at -inf carry no mass, so only the finite ones are sorted.
    /// </summary>
    public static void TopP(Span<float> row, double p, Scratch scratch) => TokenSampler.TopP(row, p, scratch);

    /// <summary>One multinomial draw from softmax(row) by inverse CDF in vocabulary order, with u uniform in [0, 1).</summary>
    public static long Draw(ReadOnlySpan<float> row, double[] probs, double u) => TokenSampler.Draw(row, probs, u);
}

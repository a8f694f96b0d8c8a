using Aim.Engine.Backends.Cpu;
using Aim.Engine.Random;

namespace Aim.Models.Generation;

/// <summary>
/// AiM's sampler (generation.sample, spec §6.4) on host logits: temperature (applied, unlike the original),
/// top-k with ties kept, top-p on the ascending sort with the maximum always kept, then one multinomial draw.
/// The uniform numbers are drawn from the seeded generator in row order before the rows are processed (in
/// parallel), so results do not depend on the thread count.
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
            var scratch = new Scratch(vocab);
            for (long r = start; r < end; r++)
            {
                var row = logits.AsSpan((int)r * vocab, vocab);
                if (options.Temperature != 1.0)
                    for (int i = 0; i < vocab; i++) row[i] = (float)(row[i] / options.Temperature);
                if (options.TopK > 0) TopK(row, Math.Min(options.TopK, vocab), scratch.Values);
                if (options.TopP < 1.0) TopP(row, options.TopP, scratch);
                tokens[r] = Draw(row, scratch.Probabilities, uniforms[r]);
            }
        });
        return tokens;
    }

    /// <summary>Per-thread work buffers.</summary>
    public sealed class Scratch(int vocab)
    {
        internal float[] Values { get; } = new float[vocab];
        internal int[] Order { get; } = new int[vocab];
        internal double[] Probabilities { get; } = new double[vocab];
    }

    /// <summary>Sets every logit strictly below the k-th largest to -inf (ties at the k-th value survive).</summary>
    public static void TopK(Span<float> row, int k, float[] scratch)
    {
        if (k >= row.Length) return;
        var s = scratch.AsSpan(0, row.Length);
        row.CopyTo(s);
        s.Sort();                                   // ascending; the k-th largest sits at Length − k
        float kth = s[row.Length - k];
        for (int i = 0; i < row.Length; i++)
            if (row[i] < kth) row[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// Sorts ascending, takes the cumulative softmax, removes entries whose cumulative mass is ≤ 1 − p, keeping the
    /// largest always (spec §6.4). Entries already at -inf carry no mass, so only the finite ones are sorted.
    /// </summary>
    public static void TopP(Span<float> row, double p, Scratch scratch)
    {
        int count = 0;
        var keys = scratch.Values;
        var order = scratch.Order;
        for (int i = 0; i < row.Length; i++)
        {
            if (float.IsNegativeInfinity(row[i])) continue;
            keys[count] = row[i];
            order[count++] = i;
        }
        if (count <= 1) return;
        Array.Sort(keys, order, 0, count);
        double max = keys[count - 1], total = 0;
        var mass = scratch.Probabilities;
        for (int i = 0; i < count; i++)
        {
            mass[i] = Math.Exp(keys[i] - max);
            total += mass[i];
        }
        double cum = 0, threshold = 1 - p;
        for (int i = 0; i < count - 1; i++)
        {
            cum += mass[i] / total;
            if (cum <= threshold) row[order[i]] = float.NegativeInfinity;
        }
    }

    /// <summary>One multinomial draw from softmax(row) by inverse CDF in vocabulary order, with u uniform in [0, 1).</summary>
    public static long Draw(ReadOnlySpan<float> row, double[] probs, double u)
    {
        double max = double.NegativeInfinity;
        foreach (float x in row) max = Math.Max(max, x);
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) throw new InvalidOperationException("sampling: every logit is -inf or NaN");
        double total = 0;
        for (int i = 0; i < row.Length; i++)
        {
            probs[i] = Math.Exp(row[i] - max);
            total += probs[i];
        }
        double target = u * total, acc = 0;
        int last = 0;
        for (int i = 0; i < row.Length; i++)
        {
            if (probs[i] <= 0) continue;
            last = i;
            acc += probs[i];
            if (target < acc) return i;
        }
        return last;
    }
}

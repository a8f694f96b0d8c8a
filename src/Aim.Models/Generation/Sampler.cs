using Aim.Engine.Random;

namespace Aim.Models.Generation;

/// <summary>
/// AiM's sampler (generation.sample, spec §6.4) on host logits: temperature (applied, unlike the original),
/// top-k with ties kept, top-p on the ascending sort with the maximum always kept, then one multinomial draw
/// from the seeded counter-based generator.
/// </summary>
public static class Sampler
{
    /// <summary>Samples one token per row. logits: (rows, vocab) row-major, modified in place (masked to -inf).</summary>
    public static long[] Sample(float[] logits, int rows, int vocab, SamplingOptions options, Rng rng)
    {
        var tokens = new long[rows];
        var probs = new double[vocab];
        var order = new int[vocab];
        var sorted = new float[vocab];
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * vocab, vocab);
            if (options.Temperature != 1.0)
                for (int i = 0; i < vocab; i++) row[i] = (float)(row[i] / options.Temperature);
            if (options.TopK > 0) TopK(row, Math.Min(options.TopK, vocab), sorted);
            if (options.TopP < 1.0) TopP(row, options.TopP, order, probs);
            tokens[r] = Draw(row, probs, rng);
        }
        return tokens;
    }

    /// <summary>Sets every logit strictly below the k-th largest to -inf (ties at the k-th value survive).</summary>
    public static void TopK(Span<float> row, int k, float[] scratch)
    {
        if (k >= row.Length) return;
        var s = scratch.AsSpan(0, row.Length);
        row.CopyTo(s);
        s.Sort((a, b) => b.CompareTo(a));
        float kth = s[k - 1];
        for (int i = 0; i < row.Length; i++)
            if (row[i] < kth) row[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// Sorts ascending, takes the cumulative softmax, removes entries whose cumulative mass is ≤ 1 − p, keeping the
    /// largest always (spec §6.4).
    /// </summary>
    public static void TopP(Span<float> row, double p, int[] order, double[] scratch)
    {
        int v = row.Length;
        for (int i = 0; i < v; i++) order[i] = i;
        var rowCopy = row.ToArray();
        // Stable ascending sort by value (index breaks ties, as a deterministic stand-in for torch.sort).
        Array.Sort(order, 0, v, Comparer<int>.Create((a, b) =>
        {
            int c = rowCopy[a].CompareTo(rowCopy[b]);
            return c != 0 ? c : a.CompareTo(b);
        }));
        double max = rowCopy[order[v - 1]];
        double total = 0;
        for (int i = 0; i < v; i++)
        {
            scratch[i] = float.IsNegativeInfinity(rowCopy[order[i]]) ? 0 : Math.Exp(rowCopy[order[i]] - max);
            total += scratch[i];
        }
        double cum = 0, threshold = 1 - p;
        for (int i = 0; i < v - 1; i++)
        {
            cum += scratch[i] / total;
            if (cum <= threshold) row[order[i]] = float.NegativeInfinity;
        }
    }

    /// <summary>One multinomial draw from softmax(row) by inverse CDF in vocabulary order.</summary>
    public static long Draw(ReadOnlySpan<float> row, double[] probs, Rng rng)
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
        double u = rng.NextDouble() * total, acc = 0;
        int last = 0;
        for (int i = 0; i < row.Length; i++)
        {
            if (probs[i] <= 0) continue;
            last = i;
            acc += probs[i];
            if (u < acc) return i;
        }
        return last;
    }
}

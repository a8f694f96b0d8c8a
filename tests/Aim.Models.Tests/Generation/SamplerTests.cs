using Aim.Engine.Random;
using Aim.Models.Generation;

namespace Aim.Models.Tests.Generation;

/// <summary>The sampler against a plain restatement of spec §6.4, and its determinism.</summary>
public class SamplerTests
{
    /// <summary>Spec §6.4 written naively: full sorts, no shortcuts.</summary>
    private static bool[] NaiveKeep(float[] logits, int k, double p)
    {
        var v = (float[])logits.Clone();
        if (k > 0 && k < v.Length)
        {
            float kth = v.OrderByDescending(x => x).ElementAt(k - 1);
            for (int i = 0; i < v.Length; i++) if (v[i] < kth) v[i] = float.NegativeInfinity;
        }
        if (p < 1)
        {
            var idx = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            double max = v.Max();
            var e = idx.Select(i => float.IsNegativeInfinity(v[i]) ? 0 : Math.Exp(v[i] - max)).ToArray();
            double total = e.Sum(), cum = 0;
            for (int j = 0; j < idx.Length - 1; j++)
            {
                cum += e[j] / total;
                if (cum <= 1 - p) v[idx[j]] = float.NegativeInfinity;
            }
        }
        return v.Select(x => !float.IsNegativeInfinity(x)).ToArray();
    }

    [Theory]
    [InlineData(600, 0.98)]
    [InlineData(0, 0.9)]
    [InlineData(10, 1.0)]
    [InlineData(1, 0.5)]
    public void MaskMatchesTheSpec(int k, double p)
    {
        var rng = new Rng(3);
        var logits = new float[2000];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(3 * rng.NextNormal());
        var expected = NaiveKeep(logits, k, p);
        var row = (float[])logits.Clone();
        var scratch = new Sampler.Scratch(row.Length);
        if (k > 0) Sampler.TopK(row, k, new float[row.Length]);
        if (p < 1) Sampler.TopP(row, p, scratch);
        Assert.Equal(expected, row.Select(x => !float.IsNegativeInfinity(x)).ToArray());
    }

    [Fact]
    public void TopKKeepsTiesAtTheKthValue()
    {
        float[] row = [1, 5, 3, 5, 5, 0];
        Sampler.TopK(row, 2, new float[row.Length]);
        Assert.Equal(new[] { false, true, false, true, true, false }, row.Select(x => !float.IsNegativeInfinity(x)).ToArray());
    }

    [Fact]
    public void SamplingIsSeededAndRespectsTheMask()
    {
        var rng = new Rng(9);
        int rows = 5, vocab = 300;
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)rng.NextNormal();
        var options = new SamplingOptions { TopK = 7, TopP = 0.95 };
        var a = Sampler.Sample((float[])logits.Clone(), rows, vocab, options, new Rng(1));
        var b = Sampler.Sample((float[])logits.Clone(), rows, vocab, options, new Rng(1));
        Assert.Equal(a, b);
        for (int r = 0; r < rows; r++)
        {
            var top7 = Enumerable.Range(0, vocab).OrderByDescending(i => logits[r * vocab + i]).Take(7).ToHashSet();
            Assert.Contains((int)a[r], top7);
        }
    }
}

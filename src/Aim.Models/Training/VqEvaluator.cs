// Holds: tokenizer reconstruction metrics: MSE and PSNR of decode(encode(x)) against x, both mapped from [-1, 1]
// to [0, 1] with the reconstruction clamped (as saved images are), PSNR = 10·log10(1 / MSE); and codebook usage:
// the share of codes used at least once and the perplexity exp(−Σ p log p) of the code histogram.
using Aim.Engine.Autograd;
using Aim.Engine.Tensors;
using Aim.Models.Data;
using Aim.Models.Vq;

namespace Aim.Models.Training;

/// <summary>The metrics of <see cref="VqEvaluator.Evaluate"/>.</summary>
/// <param name="Images">Images evaluated.</param>
/// <param name="Mse">Mean squared error in [0, 1] pixel units.</param>
/// <param name="Psnr">10·log10(1 / MSE) in dB.</param>
/// <param name="CodesUsed">Distinct codes seen.</param>
/// <param name="CodebookSize">K.</param>
/// <param name="Perplexity">exp(entropy) of the code histogram.</param>
public sealed record VqMetrics(int Images, double Mse, double Psnr, int CodesUsed, int CodebookSize, double Perplexity)
{
    /// <summary>Codes used as a percentage of the codebook.</summary>
    public double UsagePercent => 100.0 * CodesUsed / CodebookSize;
}

/// <summary>Evaluates a tokenizer on a dataset.</summary>
public static class VqEvaluator
{
    /// <summary>Runs the first <paramref name="limit"/> images (all when ≤ 0) in batches of <paramref name="batch"/>.</summary>
    public static VqMetrics Evaluate(VqModel model, IImageDataset data, int batch = 16, int limit = 0, Action<int, int>? progress = null)
    {
        if (data.ImageSize != model.Config.ImageSize || data.Channels != model.Config.InChannels)
            throw new ArgumentException($"eval-vq: the tokenizer takes {model.Config.InChannels}x{model.Config.ImageSize}x{model.Config.ImageSize} images, the dataset gives {data.Channels}x{data.ImageSize}x{data.ImageSize}");
        if (batch < 1) throw new ArgumentException($"eval-vq: --batch must be at least 1, got {batch}");
        int total = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        if (total == 0) throw new ArgumentException("eval-vq: the dataset is empty");
        var histogram = new long[model.Config.CodebookSize];
        double sq = 0;
        long pixels = 0;
        using var noGrad = Tape.NoGrad();
        for (int start = 0; start < total; start += batch)
        {
            using var scope = TensorScope.Open();
            var indices = Enumerable.Range(start, Math.Min(batch, total - start)).ToArray();
            var x = VqTrainer.ReadImages(data, indices, model.Codebook.Device);
            var codes = model.Encode(x);
            var recon = model.DecodeCodes(codes).ToArray<float>();
            var target = x.ToArray<float>();
            for (int i = 0; i < recon.Length; i++)
            {
                double r = (Math.Clamp(recon[i], -1f, 1f) + 1) / 2, t = (target[i] + 1.0) / 2;
                sq += (r - t) * (r - t);
            }
            pixels += recon.Length;
            foreach (long c in codes.ToArray<long>()) histogram[c]++;
            progress?.Invoke(start + indices.Length, total);
        }
        double mse = sq / pixels;
        long count = histogram.Sum();
        double entropy = 0;
        foreach (long h in histogram)
            if (h > 0)
            {
                double p = (double)h / count;
                entropy -= p * Math.Log(p);
            }
        return new VqMetrics(total, mse, 10 * Math.Log10(1 / Math.Max(mse, 1e-20)), histogram.Count(h => h > 0), histogram.Length, Math.Exp(entropy));
    }
}

// `aim bench vq`: time of the VQ tokenizer's encode (images → codes) and decode (codes → images) per image, for a
// loaded tokenizer or VQ-f16 (256×256, spec §8) with random weights. Each direction: one warm-up call, then the
// median of the timed calls; per-image time = call time / batch.
using System.Diagnostics;
using Aim.Engine.Autograd;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Vq;

namespace Aim.Bench;

/// <summary>One tokenizer measurement.</summary>
public sealed record VqBenchResult(string Tokenizer, string Device, int Batch, int ImageSize, int LatentSize, int Threads,
    double EncodeMsPerImage, double DecodeMsPerImage, int Repeats);

/// <summary>Times VQ encode and decode.</summary>
public static class VqBench
{
    /// <summary>A tokenizer of <paramref name="config"/> with random weights (N(0, 0.02); norm weights 1).</summary>
    public static VqModel RandomModel(VqConfig config, ulong seed = 0)
    {
        var model = new VqModel(config);
        var rng = new Rng(seed);
        foreach (var (name, p) in model.NamedParameters())
        {
            using var scope = TensorScope.Open();
            Tensor value;
            if (name.EndsWith("codebook_used", StringComparison.Ordinal)) continue;
            if (name.Contains("norm", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)) value = Tensor.Full(p.Shape, 1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) value = Tensor.Zeros(p.Shape);
            else value = rng.Normal(p.Shape, 0, 0.02);
            Aim.Engine.Operations.Ops.CopyInto(value, p);
        }
        return model;
    }

    /// <summary>Measures encode and decode of <paramref name="batch"/> random images, <paramref name="repeats"/> timed calls each.</summary>
    public static VqBenchResult Run(string name, VqModel model, int batch, int repeats, Device device, int threads)
    {
        if (batch < 1) throw new ArgumentException($"bench vq: batch {batch} must be at least 1");
        if (repeats < 1) throw new ArgumentException($"bench vq: repeats {repeats} must be at least 1");
        if (device.Kind != DeviceKind.Cpu) throw new NotSupportedException($"bench vq: {device} is not supported (the tokenizer runs on the CPU)");
        var c = model.Config;
        using var noGrad = Tape.NoGrad();
        using var outer = TensorScope.Open();
        var images = new Rng(1).Uniform([batch, c.InChannels, c.ImageSize, c.ImageSize], -1, 1);   // (B, 3, H, W)
        var codes = model.Encode(images);                                                          // (B, h·w); also the warm-up
        double encode = Median(repeats, () => model.Encode(images));
        using (TensorScope.Open()) model.DecodeCodes(codes);                                       // warm-up
        double decode = Median(repeats, () => model.DecodeCodes(codes));
        return new VqBenchResult(name, device.ToString(), batch, c.ImageSize, c.LatentSize, threads, encode / batch, decode / batch, repeats);
    }

    private static double Median(int repeats, Func<Tensor> call)
    {
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = TensorScope.Open();
            var sw = Stopwatch.StartNew();
            call();                                                                                // CPU kernels finish before returning
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}

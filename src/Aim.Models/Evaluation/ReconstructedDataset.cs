// A dataset seen through the tokenizer: every image encoded to codes and decoded back. The probe classifier trains
// on these so it knows the decoder's look (its smoothing and edge artifacts), which generated images share.
using Aim.Engine.Autograd;
using Aim.Engine.Tensors;
using Aim.Models.Data;
using Aim.Models.Vq;

namespace Aim.Models.Evaluation;

/// <summary>The VQ reconstructions of another dataset's images, computed once.</summary>
public sealed class ReconstructedDataset : IImageDataset
{
    private readonly float[] _pixels;
    private readonly int[] _labels;

    /// <summary>Encodes and decodes every image of <paramref name="inner"/> with <paramref name="vq"/> (CPU, batches of 256).</summary>
    public ReconstructedDataset(IImageDataset inner, VqModel vq)
    {
        if (inner.ImageSize != vq.Config.ImageSize || inner.Channels != vq.Config.InChannels)
            throw new ArgumentException($"reconstruction: the data's {inner.Channels}x{inner.ImageSize}x{inner.ImageSize} images do not fit the VQ ({vq.Config.InChannels}x{vq.Config.ImageSize}x{vq.Config.ImageSize})");
        ImageSize = inner.ImageSize;
        Channels = inner.Channels;
        ClassNames = inner.ClassNames;
        int per = Channels * ImageSize * ImageSize;
        _pixels = new float[(long)inner.Count * per];
        _labels = new int[inner.Count];
        const int batch = 256;
        for (int start = 0; start < inner.Count; start += batch)
        {
            int b = Math.Min(batch, inner.Count - start);
            var chunk = new float[b * per];
            for (int i = 0; i < b; i++) _labels[start + i] = inner.Read(start + i, chunk.AsSpan(i * per, per));
            using var scope = TensorScope.Open();
            using var noGrad = Tape.NoGrad();
            var images = Tensor.FromArray(chunk, [b, Channels, ImageSize, ImageSize]);
            vq.DecodeCodes(vq.Encode(images)).ToFloatArray().CopyTo(_pixels.AsSpan(start * per, b * per));
        }
    }

    /// <inheritdoc />
    public int Count => _labels.Length;
    /// <inheritdoc />
    public int ImageSize { get; }
    /// <inheritdoc />
    public int Channels { get; }
    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public int Read(int index, Span<float> pixels)
    {
        int per = Channels * ImageSize * ImageSize;
        _pixels.AsSpan(index * per, per).CopyTo(pixels);
        return _labels[index];
    }
}

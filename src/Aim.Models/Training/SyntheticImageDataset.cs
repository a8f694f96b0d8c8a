// Holds: a procedurally drawn image set for smoke tests of the tokenizer trainer (no files needed): a smooth
// colour ramp with a 2×2 bright square whose position and colour follow from the index. Spec "synthetic:COUNT:SIZE".
using System.Globalization;
using Aim.Models.Data;

namespace Aim.Models.Training;

/// <summary>Synthetic RGB images in [-1, 1]; label = index mod 2.</summary>
public sealed class SyntheticImageDataset : IImageDataset
{
    /// <summary><paramref name="count"/> images of <paramref name="size"/>² pixels (size ≥ 3).</summary>
    public SyntheticImageDataset(int count, int size)
    {
        if (count < 1 || size < 3) throw new ArgumentException($"synthetic dataset: count {count} must be ≥ 1 and size {size} ≥ 3");
        Count = count;
        ImageSize = size;
    }

    /// <summary>Parses "synthetic:COUNT:SIZE"; null when <paramref name="spec"/> has another form.</summary>
    public static SyntheticImageDataset? TryParse(string spec)
    {
        var parts = spec.Split(':');
        if (parts.Length != 3 || parts[0] != "synthetic") return null;
        if (!int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || !int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int s))
            throw new ArgumentException($"dataset spec '{spec}': expected synthetic:COUNT:SIZE with integers");
        return new SyntheticImageDataset(n, s);
    }

    /// <inheritdoc />
    public int Count { get; }
    /// <inheritdoc />
    public int ImageSize { get; }
    /// <inheritdoc />
    public int Channels => 3;
    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; } = ["even", "odd"];

    /// <inheritdoc />
    public int Read(int index, Span<float> pixels)
    {
        int size = ImageSize, s2 = size * size;
        int sx = index % (size - 2), sy = index / 3 % (size - 2);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    float v = (c == 0 ? x : c == 1 ? y : x + y) / (float)(2 * size) - 0.5f;
                    if (x >= sx && x < sx + 2 && y >= sy && y < sy + 2) v = c == index % 3 ? 0.9f : -0.9f;
                    pixels[c * s2 + y * size + x] = v;
                }
        return index % 2;
    }
}

namespace Aim.Models.Data;

/// <summary>
/// A labelled image collection for training the tokenizer and for tokenizing (ImageNet-layout folders,
/// Fashion-MNIST, MNIST). Images come out as float CHW in [-1, 1] at <see cref="ImageSize"/>² (already resized,
/// cropped or padded as the dataset defines).
/// </summary>
public interface IImageDataset
{
    /// <summary>Number of images.</summary>
    int Count { get; }

    /// <summary>Side of the square images produced, in pixels.</summary>
    int ImageSize { get; }

    /// <summary>Channels of the images produced (3: grayscale sources are replicated to RGB).</summary>
    int Channels { get; }

    /// <summary>Class names, index = label.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Writes image <paramref name="index"/> into <paramref name="pixels"/> (Channels·ImageSize² floats, CHW, in [-1, 1]) and returns its label.</summary>
    int Read(int index, Span<float> pixels);
}

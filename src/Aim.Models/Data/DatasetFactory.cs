// Holds: the --data SPEC parser that opens a dataset by description.
//   fashion-mnist:DIR[:OPTION...]   Fashion-MNIST package folder (default split train, size 32)
//   mnist:DIR[:OPTION...]           MNIST package folder (default split train, size 32)
//   folder:DIR[:OPTION...]          ImageNet-layout folder (default size 256, ratio 1)
//   DIR                             the same as folder:DIR with defaults
// OPTION: train | test | all (split; the two MNIST kinds), size=N (image side), ratio=R (image folders: the shorter
// side is resized to round(R·size) before the center crop). Options are taken from the end of the spec, so DIR itself
// may contain ':'.
using System.Globalization;

namespace Aim.Models.Data;

/// <summary>Opens datasets from a one-string description (the CLI's --data).</summary>
public static class DatasetFactory
{
    /// <summary>The accepted forms, for help texts and errors.</summary>
    public const string SpecHelp = "fashion-mnist:DIR[:train|test|all][:size=N], mnist:DIR[:train|test|all][:size=N], or an image folder DIR / folder:DIR[:size=N][:ratio=R] (root/<class>/*.jpg|png|webp)";

    /// <summary>Opens the dataset <paramref name="spec"/> describes (see <see cref="SpecHelp"/>).</summary>
    /// <exception cref="ArgumentException">The spec is malformed.</exception>
    public static IImageDataset Open(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new ArgumentException($"data spec is empty (expected {SpecHelp})");
        string kind = "folder";
        string rest = spec;
        foreach (var k in new[] { "fashion-mnist", "mnist", "folder" })
            if (spec.StartsWith(k + ":", StringComparison.Ordinal))
            {
                kind = k;
                rest = spec[(k.Length + 1)..];
                break;
            }
        bool bare = ReferenceEquals(rest, spec);

        var parts = rest.Split(':').ToList();
        DatasetSplit? split = null;
        int? size = null;
        double? ratio = null;
        while (!bare && parts.Count > 1)
        {
            string opt = parts[^1];
            if (Enum.TryParse<DatasetSplit>(opt, ignoreCase: true, out var s) && !int.TryParse(opt, out _)) split = split is null ? s : throw Dup(spec, "split");
            else if (opt.StartsWith("size=", StringComparison.Ordinal))
                size = size is null ? ParseInt(spec, opt[5..]) : throw Dup(spec, "size");
            else if (opt.StartsWith("ratio=", StringComparison.Ordinal))
                ratio = ratio is null ? ParseRatio(spec, opt[6..]) : throw Dup(spec, "ratio");
            else break;
            parts.RemoveAt(parts.Count - 1);
        }
        string dir = string.Join(':', parts);
        if (dir.Length == 0) throw new ArgumentException($"data spec '{spec}' names no folder (expected {SpecHelp})");

        switch (kind)
        {
            case "fashion-mnist":
                if (ratio is not null) throw new ArgumentException($"data spec '{spec}': ratio= applies to image folders only");
                return new FashionMnistDataset(dir, split ?? DatasetSplit.Train, size ?? 32);
            case "mnist":
                if (ratio is not null) throw new ArgumentException($"data spec '{spec}': ratio= applies to image folders only");
                return new MnistDataset(dir, split ?? DatasetSplit.Train, size ?? 32);
            default:
                if (split is not null) throw new ArgumentException($"data spec '{spec}': image folders have no train/test split option (point DIR at the split's folder)");
                return new ImageFolderDataset(dir, size ?? 256, ratio ?? 1.0);
        }
    }

    private static ArgumentException Dup(string spec, string what) => new($"data spec '{spec}': {what} given twice");

    private static int ParseInt(string spec, string text)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new ArgumentException($"data spec '{spec}': size '{text}' is not a positive integer");

    private static double ParseRatio(string spec, string text)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 1 && double.IsFinite(v) ? v
            : throw new ArgumentException($"data spec '{spec}': ratio '{text}' is not a number of at least 1");
}

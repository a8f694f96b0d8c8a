// Holds: the ImageNet-layout folder dataset (root/<class>/**/*.jpg|jpeg|png|webp). Class discovery and ordering follow
// torchvision's ImageFolder: every subfolder of the root is a class, classes sorted by name (ordinal, as Python sorts
// str), files found recursively (symlinks followed), folders visited in sorted path order and files sorted by name
// within a folder, extensions matched case-insensitively, and a class with no image is an error.
// Each image goes through ImageDecoder: shorter side to round(ratio·size) with Lanczos-3, center crop size².
using Aim.Models.Images;

namespace Aim.Models.Data;

/// <summary>Images in <c>root/&lt;class&gt;/…</c> folders, resized and center-cropped to <see cref="ImageSize"/>².</summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private readonly List<(string Path, int Label)> _items;

    /// <summary>Scans <paramref name="root"/>. Files are decoded only when read.</summary>
    /// <param name="root">Folder holding one subfolder per class.</param>
    /// <param name="imageSize">Side of the square images produced.</param>
    /// <param name="resizeRatio">The shorter side is resized to round(resizeRatio·imageSize) before the center crop:
    /// 1 (default) is LlamaGen's tokenizing transform; 1.125 is AiM's training resize (spec §7.2).</param>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    /// <exception cref="InvalidDataException">No class folder, or a class folder without images.</exception>
    public ImageFolderDataset(string root, int imageSize = 256, double resizeRatio = 1.0)
    {
        if (imageSize < 1) throw new ArgumentException($"image folder: image size {imageSize} must be positive");
        if (!(resizeRatio >= 1.0) || double.IsInfinity(resizeRatio)) throw new ArgumentException($"image folder: resize ratio {resizeRatio} must be at least 1");
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder not found: {root}");
        Root = Path.GetFullPath(root);
        ImageSize = imageSize;
        ResizeRatio = resizeRatio;
        var classes = Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0) throw new InvalidDataException($"{Root}: no class folders (expected root/<class>/<image>.jpg)");
        ClassNames = classes;
        _items = [];
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System, IgnoreInaccessible = false };
        for (int label = 0; label < classes.Count; label++)
        {
            string dir = Path.Combine(Root, classes[label]);
            var files = Directory.EnumerateFiles(dir, "*", options).Where(ImageDecoder.HasImageExtension)
                .Select(f => (Dir: Path.GetDirectoryName(f) ?? "", Name: Path.GetFileName(f)))
                .OrderBy(f => f.Dir, StringComparer.Ordinal).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new InvalidDataException($"{dir}: class '{classes[label]}' has no images ({string.Join(", ", ImageDecoder.Extensions)})");
            foreach (var (d, n) in files) _items.Add((Path.Combine(d, n), label));
        }
    }

    /// <summary>The dataset root (absolute).</summary>
    public string Root { get; }

    /// <summary>Shorter-side resize target divided by <see cref="ImageSize"/>.</summary>
    public double ResizeRatio { get; }

    /// <inheritdoc />
    public int Count => _items.Count;

    /// <inheritdoc />
    public int ImageSize { get; }

    /// <inheritdoc />
    public int Channels => 3;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Path of image <paramref name="index"/>.</summary>
    public string PathOf(int index) => _items[index].Path;

    /// <inheritdoc />
    /// <exception cref="InvalidDataException">The file does not decode (the message names it).</exception>
    public int Read(int index, Span<float> pixels)
    {
        if ((uint)index >= (uint)_items.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"image folder has {_items.Count} images");
        var (path, label) = _items[index];
        ImageDecoder.LoadSquare(path, ImageSize, pixels, ResizeRatio);
        return label;
    }
}

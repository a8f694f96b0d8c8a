// Decoded images (N, 3, H, W) float, roughly in [-1, 1] and not clamped (spec §6.6) → 8-bit PNG files.
// Pixel mapping: LlamaGen's sample scripts, clamp(127.5·x + 128, 0, 255) then truncation (a cast, not a round).
// Files are written atomically: encoded in memory, written to a temporary file in the target folder, then renamed.
using System.Runtime.InteropServices;
using Aim.Engine.Tensors;
using SkiaSharp;

namespace Aim.Models.Images;

/// <summary>Converts decoded images to bytes and writes PNG files (one image, or a padded grid).</summary>
public static class PngWriter
{
    /// <summary>Padding between grid tiles, in pixels.</summary>
    public const int GridPadding = 2;

    /// <summary>One channel value → byte: clamp(127.5·x + 128, 0, 255), truncated; NaN → 0.</summary>
    public static byte ToByte(float x)
    {
        double v = 127.5 * x + 128.0;
        if (double.IsNaN(v) || v <= 0) return 0;
        return v >= 255 ? (byte)255 : (byte)v;
    }

    /// <summary>Every image of <paramref name="images"/> (N, 3, H, W) float as interleaved RGB bytes (H·W·3 each).</summary>
    public static IReadOnlyList<byte[]> ToRgb(Tensor images)
    {
        CheckImages(images);
        int n = images.Shape[0], plane = images.Shape[2] * images.Shape[3];
        var all = images.ToFloatArray();                                  // (N, 3, H, W), one host copy
        var result = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            var rgb = result[i] = new byte[plane * 3];
            int baseIndex = i * 3 * plane;
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < plane; p++)
                    rgb[p * 3 + c] = ToByte(all[baseIndex + c * plane + p]);
        }
        return result;
    }

    /// <summary>Encodes interleaved RGB bytes (H·W·3) as PNG.</summary>
    public static byte[] EncodePng(byte[] rgb, int width, int height)
    {
        if (width < 1 || height < 1 || rgb.LongLength != (long)width * height * 3)
            throw new ArgumentException($"PngWriter.EncodePng: {rgb.LongLength} bytes for a {width}x{height} RGB image");
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var row = new byte[width * 4];
        nint pixels = bitmap.GetPixels();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int s = (y * width + x) * 3;
                row[x * 4] = rgb[s];
                row[x * 4 + 1] = rgb[s + 1];
                row[x * 4 + 2] = rgb[s + 2];
                row[x * 4 + 3] = 255;
            }
            Marshal.Copy(row, 0, pixels + y * bitmap.RowBytes, row.Length);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new IOException("PNG encoding failed (SkiaSharp returned no data)");
        return data.ToArray();
    }

    /// <summary>Writes image <paramref name="index"/> of <paramref name="images"/> (N, 3, H, W) to <paramref name="path"/>.</summary>
    public static void WriteImage(Tensor images, int index, string path)
    {
        var all = ToRgb(images);
        if (index < 0 || index >= all.Count) throw new ArgumentOutOfRangeException(nameof(index), $"PngWriter: image {index} outside 0..{all.Count - 1}");
        WriteAtomic(path, EncodePng(all[index], images.Shape[3], images.Shape[2]));
    }

    /// <summary>Writes every image of <paramref name="images"/> (N, 3, H, W) as one near-square grid with 2-px black padding.</summary>
    public static void WriteGrid(Tensor images, string path) => WriteGrid(ToRgb(images), images.Shape[3], images.Shape[2], path);

    /// <summary>Writes RGB tiles (each H·W·3 bytes) as one grid PNG; a single tile is written without padding.</summary>
    public static void WriteGrid(IReadOnlyList<byte[]> tiles, int width, int height, string path)
    {
        if (tiles.Count == 0) throw new ArgumentException("PngWriter.WriteGrid: no images");
        if (tiles.Count == 1)
        {
            WriteAtomic(path, EncodePng(tiles[0], width, height));
            return;
        }
        var grid = ImageGrid.Compose(tiles, width, height, GridPadding, out int gw, out int gh);
        WriteAtomic(path, EncodePng(grid, gw, gh));
    }

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    public static void WriteAtomic(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"output folder does not exist: {folder}");
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void CheckImages(Tensor images)
    {
        if (images.Rank != 4 || images.Shape[1] != 3 || images.Shape[0] < 1 || images.Shape[2] < 1 || images.Shape[3] < 1)
            throw new ArgumentException($"PngWriter: images {Tensor.ShapeString(images.Shape)} must be (N, 3, H, W)");
    }
}

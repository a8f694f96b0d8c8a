// Holds: helpers for the data tests: temporary folders and images generated with SkiaSharp.
using SkiaSharp;

namespace Aim.Models.Tests.Data;

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "aim-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Writes generated images.</summary>
internal static class TestImages
{
    /// <summary>Encodes a w×h image whose pixel (x, y) is <paramref name="color"/>(x, y) and writes it to <paramref name="path"/>.</summary>
    public static void Write(string path, int w, int h, Func<int, int, (byte R, byte G, byte B)> color, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var (r, g, b) = color(x, y);
                bitmap.SetPixel(x, y, new SKColor(r, g, b, 255));
            }
        using var data = bitmap.Encode(format, quality);
        File.WriteAllBytes(path, data.ToArray());
    }
}

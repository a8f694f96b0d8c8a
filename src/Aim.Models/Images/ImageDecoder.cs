// Holds: image loading for the data pipeline. JPEG, PNG and WebP are decoded with SkiaSharp into 8-bit RGB (alpha
// dropped without compositing and no colour-profile conversion or EXIF rotation, as PIL's Image.open(...).convert("RGB")
// behaves), then resized so the shorter side reaches a target with Lanczos-3 (LanczosResampler), center-cropped to
// a square and written as float CHW in [-1, 1] (ToTensor then Normalize(0.5, 0.5), spec §7.2).
// Geometry follows the center_crop_arr helper that LlamaGen's extract_codes_c2i uses (ADM's): scale = target / shorter
// side, each side rounded to the nearest integer, crop offsets (resized - size) / 2 rounded down. LlamaGen resizes
// with BICUBIC after halving with BOX; this port uses Lanczos-3 throughout, the filter of AiM's training transform
// (spec §7.2: Resize(288, LANCZOS)), which also antialiases when shrinking.
using SkiaSharp;

namespace Aim.Models.Images;

/// <summary>An 8-bit image, interleaved rows (H, W, Channels).</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">Channels per pixel (3 for RGB, 1 for grayscale).</param>
/// <param name="Pixels">H·W·Channels bytes, row-major.</param>
public sealed record ByteImage(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>Decodes image files and turns them into square model inputs.</summary>
public static class ImageDecoder
{
    /// <summary>File extensions read as images (lower case, compared case-insensitively).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".webp"];

    /// <summary>True when <paramref name="path"/> ends with one of <see cref="Extensions"/> (any case).</summary>
    public static bool HasImageExtension(string path)
        => Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Decodes a JPEG, PNG or WebP file to 8-bit RGB.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a complete image in a supported format.</exception>
    public static ByteImage DecodeRgb(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image not found: {path}", path);
        return DecodeRgb(File.ReadAllBytes(path), path);
    }

    /// <summary>Decodes encoded image bytes to 8-bit RGB; <paramref name="name"/> names the source in errors.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a complete image in a supported format.</exception>
    public static ByteImage DecodeRgb(byte[] encoded, string name)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException($"{name}: not a decodable image (expected JPEG, PNG or WebP)");
        var format = codec.EncodedFormat;
        if (format is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Png or SKEncodedImageFormat.Webp))
            throw new InvalidDataException($"{name}: {format} images are not supported (expected JPEG, PNG or WebP)");
        int w = codec.Info.Width, h = codec.Info.Height;
        if (w < 1 || h < 1) throw new InvalidDataException($"{name}: image has no pixels ({w}x{h})");
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var result = codec.GetPixels(info, out byte[] rgba);
        if (result != SKCodecResult.Success || rgba is null)
            throw new InvalidDataException($"{name}: image does not decode ({result}; truncated or corrupt {format} file?)");
        var rgb = new byte[w * h * 3];
        for (int p = 0, q = 0; p < rgb.Length; p += 3, q += 4)
        {
            rgb[p] = rgba[q];
            rgb[p + 1] = rgba[q + 1];
            rgb[p + 2] = rgba[q + 2];
        }
        return new ByteImage(w, h, 3, rgb);
    }

    /// <summary>
    /// Size of <paramref name="image"/> after scaling its shorter side to <paramref name="shorterSide"/> with the
    /// aspect ratio kept (the longer side rounded to the nearest pixel, at least <paramref name="shorterSide"/>).
    /// </summary>
    public static (int Width, int Height) ResizedSize(int width, int height, int shorterSide)
    {
        if (width < 1 || height < 1 || shorterSide < 1)
            throw new ArgumentException($"resize: {width}x{height} to shorter side {shorterSide}: sizes must be positive");
        double scale = (double)shorterSide / Math.Min(width, height);
        int w = width <= height ? shorterSide : Math.Max(shorterSide, (int)Math.Round(width * scale, MidpointRounding.ToEven));
        int h = width <= height ? Math.Max(shorterSide, (int)Math.Round(height * scale, MidpointRounding.ToEven)) : shorterSide;
        return (w, h);
    }

    /// <summary>
    /// Resizes the shorter side to <c>round(resizeRatio·size)</c> (Lanczos-3) and takes the centered
    /// <paramref name="size"/>² square: (size, size, Channels) bytes. <paramref name="resizeRatio"/> 1 is LlamaGen's
    /// tokenizing transform; 1.125 is AiM's training geometry (spec §7.2) with a center instead of a random crop.
    /// </summary>
    public static ByteImage ResizeCenterCrop(ByteImage image, int size, double resizeRatio = 1.0)
    {
        if (size < 1) throw new ArgumentException($"resize: output size {size} must be positive");
        if (!(resizeRatio >= 1.0) || double.IsInfinity(resizeRatio))
            throw new ArgumentException($"resize: resize ratio {resizeRatio} must be at least 1 (the crop must fit in the resized image)");
        int shorter = (int)Math.Round(resizeRatio * size, MidpointRounding.ToEven);
        var (rw, rh) = ResizedSize(image.Width, image.Height, shorter);
        int left = (rw - size) / 2, top = (rh - size) / 2;
        byte[] pixels = rw == image.Width && rh == image.Height
            ? CropBytes(image, left, top, size)
            : LanczosResampler.ResizeWindow(image.Pixels, image.Width, image.Height, image.Channels, rw, rh, left, top, size, size);
        return new ByteImage(size, size, image.Channels, pixels);
    }

    /// <summary>Resizes to exactly <paramref name="width"/>×<paramref name="height"/> (Lanczos-3), ignoring the aspect ratio.</summary>
    public static ByteImage Resize(ByteImage image, int width, int height)
    {
        if (width == image.Width && height == image.Height) return image;
        return new ByteImage(width, height, image.Channels,
            LanczosResampler.ResizeWindow(image.Pixels, image.Width, image.Height, image.Channels, width, height, 0, 0, width, height));
    }

    /// <summary>
    /// Writes an image as float CHW in [-1, 1] (byte/127.5 − 1); grayscale is replicated to <paramref name="channels"/>
    /// (3), RGB needs <paramref name="channels"/> = 3. <paramref name="chw"/>: (channels, H, W).
    /// </summary>
    public static void ToChw(ByteImage image, Span<float> chw, int channels = 3)
    {
        int plane = image.Width * image.Height;
        if (chw.Length != channels * plane)
            throw new ArgumentException($"ToChw: buffer of {chw.Length} floats for a {channels}x{image.Height}x{image.Width} image");
        if (image.Channels != channels && image.Channels != 1)
            throw new ArgumentException($"ToChw: cannot turn a {image.Channels}-channel image into {channels} channels");
        for (int c = 0; c < channels; c++)
        {
            int src = image.Channels == 1 ? 0 : c;
            var dst = chw.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++) dst[p] = image.Pixels[p * image.Channels + src] / 127.5f - 1f;
        }
    }

    /// <summary>
    /// Decodes <paramref name="path"/>, resizes the shorter side to <c>round(resizeRatio·size)</c>, center-crops
    /// <paramref name="size"/>² and writes RGB CHW in [-1, 1] into <paramref name="chw"/> (3·size² floats).
    /// </summary>
    /// <exception cref="InvalidDataException">The file does not decode (the message names the file).</exception>
    public static void LoadSquare(string path, int size, Span<float> chw, double resizeRatio = 1.0)
        => ToChw(ResizeCenterCrop(DecodeRgb(path), size, resizeRatio), chw);

    private static byte[] CropBytes(ByteImage image, int left, int top, int size)
    {
        int c = image.Channels;
        var dst = new byte[size * size * c];
        for (int y = 0; y < size; y++)
            image.Pixels.AsSpan(((top + y) * image.Width + left) * c, size * c).CopyTo(dst.AsSpan(y * size * c, size * c));
        return dst;
    }
}

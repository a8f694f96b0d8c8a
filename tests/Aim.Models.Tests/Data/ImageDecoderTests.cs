// Holds: tests of image decoding, the shorter-side resize + center-crop geometry, Lanczos-3 behaviour and the
// error for files that do not decode.
using Aim.Models.Images;
using SkiaSharp;

namespace Aim.Models.Tests.Data;

public class ImageDecoderTests
{
    [Theory]
    [InlineData(500, 375, 256, 341, 256)]   // landscape: 500·256/375 = 341.33
    [InlineData(375, 500, 256, 256, 341)]   // portrait
    [InlineData(300, 300, 288, 288, 288)]
    [InlineData(33, 20, 16, 26, 16)]        // 26.4 → 26
    [InlineData(20, 25, 16, 16, 20)]        // 25·16/20 = 20 exactly
    [InlineData(10, 13, 4, 4, 5)]           // 5.2 → 5
    public void ResizedSizeKeepsAspectAndRounds(int w, int h, int shorter, int ew, int eh)
        => Assert.Equal((ew, eh), ImageDecoder.ResizedSize(w, h, shorter));

    [Fact]
    public void PngRoundTripsExactly()
    {
        using var dir = new TempFolder();
        string path = dir.Combine("a.png");
        TestImages.Write(path, 7, 5, (x, y) => ((byte)(x * 30), (byte)(y * 50), (byte)(x + y)));
        var image = ImageDecoder.DecodeRgb(path);
        Assert.Equal((7, 5, 3), (image.Width, image.Height, image.Channels));
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++)
                Assert.Equal(new[] { (byte)(x * 30), (byte)(y * 50), (byte)(x + y) }, image.Pixels.AsSpan((y * 7 + x) * 3, 3).ToArray());
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg, "a.jpg", 6)]
    [InlineData(SKEncodedImageFormat.Webp, "a.webp", 6)]
    public void JpegAndWebpDecodeCloseToTheSource(SKEncodedImageFormat format, string name, int tolerance)
    {
        using var dir = new TempFolder();
        string path = dir.Combine(name);
        TestImages.Write(path, 16, 16, (x, y) => (200, 100, 50), format, 100);
        var image = ImageDecoder.DecodeRgb(path);
        Assert.Equal((16, 16), (image.Width, image.Height));
        for (int p = 0; p < 16 * 16; p++)
        {
            Assert.InRange(image.Pixels[3 * p], 200 - tolerance, 200 + tolerance);
            Assert.InRange(image.Pixels[3 * p + 1], 100 - tolerance, 100 + tolerance);
            Assert.InRange(image.Pixels[3 * p + 2], 50 - tolerance, 50 + tolerance);
        }
    }

    [Fact]
    public void CenterCropTakesTheMiddleWhenNoResizeIsNeeded()
    {
        // 48×16, three 16-pixel bands red | green | blue: the shorter side is already 16, so the crop is the green band.
        var pixels = new byte[48 * 16 * 3];
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 48; x++) pixels[(y * 48 + x) * 3 + x / 16] = 255;
        var crop = ImageDecoder.ResizeCenterCrop(new ByteImage(48, 16, 3, pixels), 16);
        Assert.Equal((16, 16), (crop.Width, crop.Height));
        for (int p = 0; p < 256; p++) Assert.Equal(new byte[] { 0, 255, 0 }, crop.Pixels.AsSpan(3 * p, 3).ToArray());
    }

    [Fact]
    public void ResizeThenCropFollowsTheGeometry()
    {
        // 64×32 with a vertical edge at x = 32 (left black, right white) → shorter side 16 → 32×16 → crop x∈[8, 24):
        // the edge lands at crop column 8, so columns 0..4 stay black and 11..15 white (Lanczos-3 shrinking by 2
        // reaches 6 source pixels = 3 output pixels, and rings slightly near the edge).
        var pixels = new byte[64 * 32];
        for (int y = 0; y < 32; y++)
            for (int x = 32; x < 64; x++) pixels[y * 64 + x] = 255;
        var crop = ImageDecoder.ResizeCenterCrop(new ByteImage(64, 32, 1, pixels), 16);
        for (int y = 0; y < 16; y++)
        {
            for (int x = 0; x <= 4; x++) Assert.Equal(0, crop.Pixels[y * 16 + x]);
            for (int x = 11; x < 16; x++) Assert.Equal(255, crop.Pixels[y * 16 + x]);
            // The edge falls exactly between crop columns 7 and 8: mirror-symmetric values, each mostly its own side.
            Assert.InRange(crop.Pixels[y * 16 + 7], 1, 40);
            Assert.InRange(crop.Pixels[y * 16 + 7] + crop.Pixels[y * 16 + 8], 254, 256);
        }
    }

    [Fact]
    public void ResizeRatioCropsTighter()
    {
        // A centered 32-pixel square ring on 64×64: ratio 1 keeps the whole frame at 16; ratio 2 resizes to 32 and
        // crops the middle 16, which must be the image's central quarter (the region inside the ring, all black).
        var pixels = new byte[64 * 64];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                if (x < 8 || x >= 56 || y < 8 || y >= 56) pixels[y * 64 + x] = 255;
        var whole = ImageDecoder.ResizeCenterCrop(new ByteImage(64, 64, 1, pixels), 16);
        Assert.Equal(255, whole.Pixels[0]);
        var tight = ImageDecoder.ResizeCenterCrop(new ByteImage(64, 64, 1, pixels), 16, 2.0);
        Assert.All(tight.Pixels, p => Assert.Equal(0, p));
    }

    [Fact]
    public void LanczosKeepsConstantsAndAntialiasesWhenShrinking()
    {
        var flat = Enumerable.Repeat((byte)77, 40 * 30 * 3).ToArray();
        var small = ImageDecoder.Resize(new ByteImage(40, 30, 3, flat), 13, 9);
        Assert.All(small.Pixels, p => Assert.Equal(77, p));
        var big = ImageDecoder.Resize(new ByteImage(40, 30, 3, flat), 61, 47);
        Assert.All(big.Pixels, p => Assert.Equal(77, p));

        // A 1-pixel checkerboard shrunk by 4 is uniform gray (the filter is widened), not aliased stripes.
        var checker = new byte[64 * 64];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) checker[y * 64 + x] = (byte)((x + y) % 2 == 0 ? 255 : 0);
        var gray = ImageDecoder.Resize(new ByteImage(64, 64, 1, checker), 16, 16);
        for (int y = 2; y < 14; y++)
            for (int x = 2; x < 14; x++) Assert.InRange(gray.Pixels[y * 16 + x], 120, 135);
    }

    /// <summary>
    /// Pillow 9.4's Image.resize(..., Image.LANCZOS) on the same 8-bit gray inputs (values recorded from Pillow):
    /// the port agrees within one level (Pillow uses fixed-point taps; on larger random images 0 to 14 of 261,888
    /// values differed, by 1).
    /// </summary>
    [Fact]
    public void LanczosMatchesPillow()
    {
        static ByteImage Source(int w, int h)
        {
            var p = new byte[w * h];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) p[y * w + x] = (byte)((x * 37 + y * 91 + x * y * 13) % 256);
            return new ByteImage(w, h, 1, p);
        }
        byte[] down = [105, 141, 140, 101, 135, 137, 147, 128, 135, 113, 103, 152, 142, 144, 111, 162, 151, 147, 156, 157];
        byte[] up = [0, 4, 31, 50, 61, 87, 141, 173, 17, 27, 62, 101, 143, 162, 127, 95, 76, 93, 133, 166, 228, 247, 116, 12, 163, 205, 227, 147,
            129, 178, 141, 97, 162, 217, 232, 102, 41, 109, 164, 182, 64, 102, 146, 124, 145, 196, 150, 100, 0, 15, 80, 148, 238, 255, 135, 22];
        var d = ImageDecoder.Resize(Source(13, 9), 5, 4).Pixels;
        var u = ImageDecoder.Resize(Source(5, 4), 8, 7).Pixels;
        for (int i = 0; i < down.Length; i++) Assert.InRange(d[i] - down[i], -1, 1);
        for (int i = 0; i < up.Length; i++) Assert.InRange(u[i] - up[i], -1, 1);
    }

    [Fact]
    public void ToChwMapsBytesToMinusOneOne()
    {
        var image = new ByteImage(2, 1, 3, [0, 255, 51, 255, 0, 102]);
        var chw = new float[6];
        ImageDecoder.ToChw(image, chw);
        Assert.Equal(new[] { -1f, 1f, 1f, -1f, 51 / 127.5f - 1, 102 / 127.5f - 1 }, chw);
        var gray = new float[6];
        ImageDecoder.ToChw(new ByteImage(2, 1, 1, [0, 255]), gray);
        Assert.Equal(new[] { -1f, 1f, -1f, 1f, -1f, 1f }, gray);
    }

    [Fact]
    public void GarbageFileGivesAClearError()
    {
        using var dir = new TempFolder();
        string path = dir.Combine("broken.jpg");
        File.WriteAllText(path, "this is not a JPEG");
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.DecodeRgb(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not a decodable image", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedPngGivesAClearError()
    {
        using var dir = new TempFolder();
        string path = dir.Combine("cut.png");
        TestImages.Write(path, 64, 64, (x, y) => ((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y)));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.LoadSquare(path, 16, new float[3 * 16 * 16]));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
        => Assert.Throws<FileNotFoundException>(() => ImageDecoder.DecodeRgb(Path.Combine(Path.GetTempPath(), "no-such-image-" + Guid.NewGuid() + ".png")));
}

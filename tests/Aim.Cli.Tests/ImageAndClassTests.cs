// PngWriter's pixel mapping (spec §6.6: clamp(127.5·x + 128, 0, 255), truncated), grid geometry, PNG round trip,
// atomic writes; the ImageNet-1k list and class-name resolution.
using Aim.Engine.Tensors;
using Aim.Models.Generation;
using Aim.Models.Images;
using SkiaSharp;

namespace Aim.Cli.Tests;

public sealed class ImageAndClassTests
{
    [Theory]
    [InlineData(-1f, 0)]
    [InlineData(1f, 255)]
    [InlineData(0f, 128)]
    [InlineData(0.5f, 191)]       // 191.75 truncated
    [InlineData(-0.5f, 64)]       // 64.25
    [InlineData(-0.999f, 0)]      // 0.6275
    [InlineData(10f, 255)]
    [InlineData(-10f, 0)]
    [InlineData(float.NaN, 0)]
    public void Pixel_mapping_clamps_and_truncates(float x, int expected) => Assert.Equal(expected, PngWriter.ToByte(x));

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 2, 1)]
    [InlineData(3, 2, 2)]
    [InlineData(4, 2, 2)]
    [InlineData(5, 3, 2)]
    [InlineData(10, 4, 3)]
    [InlineData(16, 4, 4)]
    [InlineData(17, 5, 4)]
    public void Grid_is_near_square(int n, int columns, int rows) => Assert.Equal((columns, rows), ImageGrid.Layout(n));

    [Fact]
    public void Grid_png_round_trips_pixels_and_padding()
    {
        // Two 3×2 images: image 0 all x = 1 (white), image 1 with red = 1, green = -1, blue = 0.
        const int h = 2, w = 3;
        var data = new float[2 * 3 * h * w];
        for (int i = 0; i < 3 * h * w; i++) data[i] = 1f;
        for (int p = 0; p < h * w; p++)
        {
            data[3 * h * w + p] = 1f;
            data[3 * h * w + h * w + p] = -1f;
            data[3 * h * w + 2 * h * w + p] = 0f;
        }
        using var images = Tensor.FromArray(data, [2, 3, h, w]);
        string dir = CliHarness.TempFolder();
        string path = Path.Combine(dir, "grid.png");
        PngWriter.WriteGrid(images, path);
        Assert.Equal(["grid.png"], Directory.GetFiles(dir).Select(Path.GetFileName));
        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal((2 * w + 3 * PngWriter.GridPadding, h + 2 * PngWriter.GridPadding), (bitmap.Width, bitmap.Height));
        Assert.Equal(new SKColor(0, 0, 0), bitmap.GetPixel(0, 0));                                  // padding
        Assert.Equal(new SKColor(255, 255, 255), bitmap.GetPixel(2, 2));                            // image 0
        Assert.Equal(new SKColor(255, 0, 128), bitmap.GetPixel(2 + w + 2, 3));                     // image 1

        string single = Path.Combine(dir, "one.png");
        PngWriter.WriteImage(images, 1, single);
        using var one = SKBitmap.Decode(single);
        Assert.Equal((w, h), (one.Width, one.Height));
        Assert.Equal(new SKColor(255, 0, 128), one.GetPixel(1, 1));
    }

    [Fact]
    public void Atomic_write_into_a_missing_folder_fails_without_leaving_files()
    {
        string dir = CliHarness.TempFolder();
        Assert.Throws<DirectoryNotFoundException>(() => PngWriter.WriteAtomic(Path.Combine(dir, "nope", "x.png"), [1, 2, 3]));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void ImageNet_list_has_the_standard_names_in_order()
    {
        Assert.Equal(1000, ImageNetClasses.Names.Count);
        Assert.Equal("tench", ImageNetClasses.Names[0]);
        Assert.Equal("goldfish", ImageNetClasses.Names[1]);
        Assert.Equal("golden retriever", ImageNetClasses.Names[207]);
        Assert.Equal("tabby", ImageNetClasses.Names[281]);
        Assert.Equal("toilet tissue", ImageNetClasses.Names[999]);
        Assert.Contains("Tinca tinca", ImageNetClasses.Synonyms(0));
    }

    [Fact]
    public void Class_lookup_by_number_name_or_synonym()
    {
        var names = ClassNames.ImageNet();
        Assert.Equal(207, names.Resolve("Golden Retriever"));
        Assert.Equal(207, names.Resolve("207"));
        Assert.Equal(999, names.Resolve("toilet paper"));
        Assert.Equal(1, names.Resolve("  goldfish "));
        Assert.Contains("ambiguous", Assert.Throws<ArgumentException>(() => names.Resolve("crane")).Message, StringComparison.Ordinal);
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => names.Resolve("1000")).Message, StringComparison.Ordinal);
        Assert.Contains("unknown", Assert.Throws<ArgumentException>(() => names.Resolve("dragon king")).Message, StringComparison.Ordinal);
        Assert.Equal("207 (golden retriever)", names.Describe(207));
        Assert.Equal("ImageNet-1k", ClassNames.ForModel(null, 1000).Source);
        Assert.False(ClassNames.ForModel(null, 10).HasNames);
        Assert.Throws<InvalidDataException>(() => ClassNames.FromJson("[\"a\", \"b\"]", "test", 3));
    }
}

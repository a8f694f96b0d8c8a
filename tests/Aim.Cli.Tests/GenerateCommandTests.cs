// `aim generate` end to end on the tiny fixture pair: PNG output (single image, grid, folder), determinism by seed,
// class names from classes.json, and every refusal exiting non-zero with one line and no output file.
using SkiaSharp;

namespace Aim.Cli.Tests;

public sealed class GenerateCommandTests
{
    private static (int Width, int Height) PngSize(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        return (bitmap.Width, bitmap.Height);
    }

    [Fact]
    public void Pair_writes_a_single_png_of_the_tokenizer_size()
    {
        var (aim, _) = CliHarness.PairedAim();
        var (vq, vqConfig) = CliHarness.VqFolder();
        string dir = CliHarness.TempFolder();
        string png = Path.Combine(dir, "x.png");
        var r = CliHarness.Run("generate", "--model", aim, "--vq", vq, "--output", png, "--seed", "7");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal((vqConfig.ImageSize, vqConfig.ImageSize), PngSize(png));
        Assert.Contains("tokens/s", r.Out);
        Assert.Equal(["x.png"], Directory.GetFiles(dir).Select(Path.GetFileName));    // no temporary file left behind
    }

    [Fact]
    public void Several_images_make_a_padded_near_square_grid_and_the_seed_fixes_the_pixels()
    {
        var (aim, _) = CliHarness.PairedAim();
        var (vq, vqConfig) = CliHarness.VqFolder();
        string dir = CliHarness.TempFolder();
        string a = Path.Combine(dir, "a.png"), b = Path.Combine(dir, "b.png");
        Assert.Equal(0, CliHarness.Run("generate", "--model", aim, "--vq", vq, "-c", "1,2", "--class", "3", "--count", "1", "--seed", "11", "-o", a).Code);
        Assert.Equal(0, CliHarness.Run("generate", "--model", aim, "--vq", vq, "-c", "1,2", "--class", "3", "--count", "1", "--seed", "11", "-o", b).Code);
        int s = vqConfig.ImageSize;
        Assert.Equal((2 * s + 3 * 2, 2 * s + 3 * 2), PngSize(a));                   // 3 images → 2×2 grid, 2-px padding
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void A_folder_output_gets_one_file_per_image_named_by_index_and_class()
    {
        var (aim, _) = CliHarness.PairedAim();
        var (vq, vqConfig) = CliHarness.VqFolder();
        string dir = Path.Combine(CliHarness.TempFolder(), "samples");
        var r = CliHarness.Run("generate", "--model", aim, "--vq", vq, "-c", "4", "-n", "2", "--seed", "1", "--cfg", "2", "--top-k", "0", "--top-p", "1", "-o", dir);
        Assert.True(r.Code == 0, r.Err);
        var files = Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["0-4.png", "1-4.png"], files);
        foreach (var f in files) Assert.Equal((vqConfig.ImageSize, vqConfig.ImageSize), PngSize(Path.Combine(dir, f)));
    }

    [Fact]
    public void Class_names_come_from_classes_json_in_the_model_folder()
    {
        var (aim, config) = CliHarness.PairedAim();
        var (vq, _) = CliHarness.VqFolder();
        string model = CliHarness.CopyModelFolder(aim);
        var names = Enumerable.Range(0, config.NumClasses).Select(i => i == 2 ? "Snow Leopard" : $"thing {i}");
        File.WriteAllText(Path.Combine(model, "classes.json"), "[" + string.Join(",", names.Select(n => $"\"{n}\"")) + "]");
        string outDir = CliHarness.TempFolder();
        var r = CliHarness.Run("generate", "--model", model, "--vq", vq, "-c", "snow leopard", "--seed", "3", "-o", outDir);
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(["0-Snow_Leopard.png"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Contains("2 (Snow Leopard)", r.Out);
    }

    public static TheoryData<string> ErrorCases() =>
    [
        "missing-model", "corrupt-model", "truncated-model", "mismatched-pair", "class-out-of-range", "negative-class", "unknown-class-name",
        "unknown-device", "missing-output-folder", "bad-number", "bad-top-p", "zero-count", "no-model", "missing-vq", "unsupported-extension", "too-many-images",
    ];

    [Theory]
    [MemberData(nameof(ErrorCases))]
    public void Refusals_exit_non_zero_with_one_line_and_write_nothing(string error)
    {
        var (aim, _) = CliHarness.PairedAim();
        var (vq, _) = CliHarness.VqFolder();
        string dir = CliHarness.TempFolder();
        string png = Path.Combine(dir, "out.png");
        string model = aim;
        var extra = new List<string>();
        string? expected = null;
        switch (error)
        {
            case "missing-model":
                model = Path.Combine(dir, "no-such-model");
                expected = "not found";
                break;
            case "corrupt-model":
                model = Path.Combine(dir, "model");
                Directory.CreateDirectory(model);
                File.Copy(Path.Combine(aim, "config.json"), Path.Combine(model, "config.json"));
                File.WriteAllText(Path.Combine(model, "model.safetensors"), "this is not a checkpoint at all");
                break;
            case "truncated-model":
                model = Path.Combine(dir, "model");
                Directory.CreateDirectory(model);
                File.Copy(Path.Combine(aim, "config.json"), Path.Combine(model, "config.json"));
                var bytes = File.ReadAllBytes(Path.Combine(aim, "model.safetensors"));
                File.WriteAllBytes(Path.Combine(model, "model.safetensors"), bytes[..(bytes.Length / 2)]);
                break;
            case "mismatched-pair":
                model = CliHarness.MismatchedAim().Path;
                expected = "do not match";
                break;
            case "class-out-of-range":
                extra.AddRange(["--class", CliHarness.PairedAim().Config.NumClasses.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                expected = "out of range";
                break;
            case "negative-class":
                extra.Add("--class=-1");
                expected = "out of range";
                break;
            case "unknown-class-name":
                extra.AddRange(["--class", "platypus"]);
                break;
            case "unknown-device":
                extra.AddRange(["--device", "tpu"]);
                expected = "unknown device";
                break;
            case "missing-output-folder":
                png = Path.Combine(dir, "missing", "out.png");
                expected = "does not exist";
                break;
            case "bad-number":
                extra.AddRange(["--cfg", "five"]);
                break;
            case "bad-top-p":
                extra.AddRange(["--top-p", "1.5"]);
                expected = "top-p";
                break;
            case "zero-count":
                extra.AddRange(["--count", "0"]);
                expected = "--count";
                break;
            case "no-model":
                model = "";
                expected = "--model";
                break;
            case "missing-vq":
                vq = Path.Combine(dir, "no-such-vq");
                expected = "--vq";
                break;
            case "too-many-images":
                extra.AddRange(["--count", "5000"]);
                expected = "at most";
                break;
            case "unsupported-extension":
                png = Path.Combine(dir, "out.jpg");
                expected = ".jpg";
                break;
        }
        var args = new List<string> { "generate" };
        if (model.Length > 0) args.AddRange(["--model", model]);
        args.AddRange(["--vq", vq, "--output", png, "--seed", "1"]);
        args.AddRange(extra);
        var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var r = CliHarness.Run([.. args]);
        Assert.NotEqual(0, r.Code);
        var line = Assert.Single(r.ErrLines);
        Assert.StartsWith("aim: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", line, StringComparison.Ordinal);
        if (expected is not null) Assert.Contains(expected, line, StringComparison.Ordinal);
        var after = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(before, after);                                                  // no partial output
        Assert.False(File.Exists(png));
    }
}

// The built-in Fashion-MNIST pair: `aim generate` with no --model/--vq uses it, class names resolve by name or
// number, and a lone --vq is refused.
using SkiaSharp;

namespace Aim.Cli.Tests;

public sealed class DefaultModelTests
{
    [Theory]
    [InlineData("sneaker")]
    [InlineData("7")]
    public void Generate_without_a_model_uses_the_built_in_pair(string cls)
    {
        string png = Path.Combine(CliHarness.TempFolder(), "s.png");
        var r = CliHarness.Run("generate", "--class", cls, "--seed", "3", "--output", png);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("Sneaker", r.Out);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal((32, 32), (bitmap.Width, bitmap.Height));
    }

    [Fact]
    public void A_vq_without_a_model_is_refused()
    {
        string png = Path.Combine(CliHarness.TempFolder(), "s.png");
        var r = CliHarness.Run("generate", "--vq", "somewhere", "--output", png);
        Assert.NotEqual(0, r.Code);
        Assert.Contains("--vq without --model", r.Err);
        Assert.False(File.Exists(png));
    }
}

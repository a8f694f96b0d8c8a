// `aim info` on fixture folders / files and on the built-in shapes (spec §1.2 totals), the parameter-count
// breakdown against the model's own parameters, and `aim bench vq --json` on the fixture tokenizer.
using System.Globalization;
using System.Text.Json;
using Aim.Models.Stage2;

namespace Aim.Cli.Tests;

public sealed class InfoAndBenchTests
{
    private static string N0(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    [Fact]
    public void Info_on_aim_b_reports_the_spec_total()
    {
        var r = CliHarness.Run("info", "--model", "aim-b");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("147,622,080", r.Out);
        Assert.Contains("d_model", r.Out);
        Assert.Contains("768", r.Out);
    }

    [Theory]
    [InlineData("aim-b", 147_622_080L)]
    [InlineData("aim-l", 349_760_000L)]
    [InlineData("aim-xl", 763_291_392L)]
    public void Config_counts_match_the_spec_table(string name, long total)
    {
        var counts = AimParameterCounts.FromConfig(AimConfig.BuiltIn(name)!);
        Assert.Equal(total, counts.Total);
        Assert.Contains(N0(total), CliHarness.Run("info", "-m", name).Out);
    }

    [Fact]
    public void Config_counts_equal_the_models_own_parameters_group_by_group()
    {
        foreach (var (_, config) in CliHarness.AimFolders())
        {
            using var model = new AimModel(config);
            var named = AimParameterCounts.FromNamed(model.NamedParameters().Select(p => (p.Name, p.Value.Count)));
            Assert.Equal(named, AimParameterCounts.FromConfig(config));
            Assert.Equal(model.ParameterCount(), named.Total);
        }
    }

    [Fact]
    public void Info_on_fixture_folders_and_files_shows_config_counts_dtype_and_format()
    {
        foreach (var (path, config) in CliHarness.AimFolders())
        {
            long total = AimParameterCounts.FromConfig(config).Total;
            var r = CliHarness.Run("info", "--model", path);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains(N0(total), r.Out);
            Assert.Contains("safetensors", r.Out);
            Assert.Contains("f32", r.Out);
            Assert.Contains("num_tokens", r.Out);
            Assert.DoesNotContain("differ", r.Out);
            string bin = Path.Combine(path, "pytorch_model.bin");
            if (!File.Exists(bin)) continue;
            var rb = CliHarness.Run("info", "--model", bin);
            Assert.True(rb.Code == 0, rb.Err);
            Assert.Contains("torch.save zip", rb.Out);
            Assert.Contains(N0(total), rb.Out);                                  // the tied head stored twice is counted once
        }
    }

    [Fact]
    public void Info_refuses_unknown_names_with_one_line()
    {
        var r = CliHarness.Run("info", "--model", "aim-zz");
        Assert.NotEqual(0, r.Code);
        Assert.StartsWith("aim: ", Assert.Single(r.ErrLines), StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_vq_json_reports_positive_times_at_the_tokenizer_size()
    {
        var (vq, config) = CliHarness.VqFolder();
        var r = CliHarness.Run("bench", "vq", "--vq", vq, "--repeats", "1", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out.Trim());
        var root = doc.RootElement;
        Assert.Equal(config.ImageSize, root.GetProperty("image_size").GetInt32());
        Assert.Equal(config.LatentSize, root.GetProperty("latent_size").GetInt32());
        Assert.True(root.GetProperty("encode_ms_per_image").GetDouble() > 0);
        Assert.True(root.GetProperty("decode_ms_per_image").GetDouble() > 0);
    }
}

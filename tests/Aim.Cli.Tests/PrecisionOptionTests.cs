// `aim train --precision` and `aim bench train --precision`: bf16 trains and records its precision in the
// checkpoint, a resume with the other precision is one "aim:" line, and a bad value is one line naming the choices.
using Aim.Models.Data;
using Aim.Models.Stage2;

namespace Aim.Cli.Tests;

public sealed class PrecisionOptionTests
{
    [Fact]
    public void Train_precision_bf16_runs_and_a_resume_must_keep_it()
    {
        string shards = CliHarness.TempFolder(), run = Path.Combine(CliHarness.TempFolder(), "run");
        var writer = new TokenShardWriter(shards, new TokenShardMetadata(2, 2, 8, ["a", "b"], "test"));
        for (int i = 0; i < 8; i++) writer.Add([i % 8, (i + 1) % 8, (i + 2) % 8, (i + 3) % 8], i % 2);
        writer.Complete();
        string config = Path.Combine(CliHarness.TempFolder(), "config.json");
        File.WriteAllText(config, new AimConfig
        {
            DModel = 16, NLayer = 1, VocabSize = 8, NumClasses = 2, NumTokens = 4,
            Ssm = new SsmConfig { DState = 4, HeadDim = 8, ChunkSize = 4 },
        }.ToJson());
        string[] common = ["train", "--data", shards, "--out", run, "--model-config", config, "--batch", "2"];
        var r = CliHarness.Run([.. common, "--steps", "2", "--precision", "bf16"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("bf16", r.Out);

        var other = CliHarness.Run([.. common, "--steps", "3", "--resume"]);
        Assert.Equal(1, other.Code);
        Assert.Single(other.ErrLines);
        Assert.Contains("--precision bf16, this run asks for fp32", other.Err);

        var resumed = CliHarness.Run([.. common, "--steps", "3", "--resume", "--precision", "bf16"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("done: 3 steps", resumed.Out);

        var bad = CliHarness.Run([.. common, "--steps", "3", "--precision", "fp16"]);
        Assert.Equal(1, bad.Code);
        Assert.Single(bad.ErrLines);
        Assert.Contains("--precision must be fp32 or bf16, got 'fp16'", bad.Err);
    }

    [Fact]
    public void Bench_train_refuses_an_unknown_precision_in_one_line()
    {
        var bad = CliHarness.Run("bench", "train", "--precision", "fp8");
        Assert.Equal(1, bad.Code);
        Assert.Single(bad.ErrLines);
        Assert.Contains("--precision must be fp32 or bf16, got 'fp8'", bad.Err);
    }
}

using Aim.Models.Data;
// `aim train`, `aim train-vq` and `aim eval-vq` in-process on tiny problems: the run folder gets a checkpoint and a
// loadable model folder, an existing checkpoint needs --resume, a mismatched resume is one "aim:" line, exit 1.
using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Stage2;
using Aim.Models.Vq;

namespace Aim.Cli.Tests;

public sealed class TrainCommandTests
{
    private static string WriteShards()
    {
        string dir = CliHarness.TempFolder();
        const int n = 8, t = 4;
        var writer = new TokenShardWriter(dir, new TokenShardMetadata(2, 2, 8, ["a", "b"], "test"));
        var codes = new int[t];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < t; j++) codes[j] = (5 * (i % 2) + j) % 8;
            writer.Add(codes, i % 2);
        }
        writer.Complete();
        return dir;
    }

    [Fact]
    public void Train_writes_a_loadable_model_and_guards_the_checkpoint()
    {
        string shards = WriteShards(), run = Path.Combine(CliHarness.TempFolder(), "run");
        string config = Path.Combine(CliHarness.TempFolder(), "config.json");
        File.WriteAllText(config, new AimConfig
        {
            DModel = 16, NLayer = 1, VocabSize = 8, NumClasses = 2, NumTokens = 4,
            Ssm = new SsmConfig { DState = 4, HeadDim = 8, ChunkSize = 4 },
        }.ToJson());
        var r = CliHarness.Run("train", "--data", shards, "--out", run, "--model-config", config, "--steps", "3", "--batch", "2", "--lr", "1e-3", "--log-every", "1");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("step 3/3", r.Out);
        Assert.Contains("tok/s", r.Out);
        using (var model = AimCheckpoint.Load(Path.Combine(run, "model"), Device.Cpu, out _)) Assert.Equal(16, model.Config.DModel);

        var again = CliHarness.Run("train", "--data", shards, "--out", run, "--model-config", config, "--steps", "3", "--batch", "2");
        Assert.Equal(1, again.Code);
        Assert.Single(again.ErrLines);
        Assert.Contains("--resume", again.Err);

        var other = CliHarness.Run("train", "--data", shards, "--out", run, "--model-config", config, "--steps", "5", "--batch", "4", "--resume");
        Assert.Equal(1, other.Code);
        Assert.Single(other.ErrLines);
        Assert.Contains("--batch 2", other.Err);

        var resumed = CliHarness.Run("train", "--data", shards, "--out", run, "--model-config", config, "--steps", "5", "--batch", "2", "--resume");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("at step 3", resumed.Out);
        Assert.Contains("done: 5 steps", resumed.Out);
    }

    [Fact]
    public void Train_vq_and_eval_vq_run_on_synthetic_images()
    {
        string run = Path.Combine(CliHarness.TempFolder(), "vq");
        string config = Path.Combine(CliHarness.TempFolder(), "vq.json");
        File.WriteAllText(config, new VqConfig
        {
            Ch = 8, ChMult = [1, 2], ZChannels = 8, EmbedDim = 4, CodebookSize = 16, NumResBlocks = 1, ImageSize = 8, NormGroups = 4,
        }.ToJson());
        var r = CliHarness.Run("train-vq", "--data", "synthetic:8:8", "--out", run, "--model-config", config, "--steps", "2", "--batch", "4", "--log-every", "1", "--edge-weight", "0.1");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("img/s", r.Out);
        Assert.Contains("commit", r.Out);
        var e = CliHarness.Run("eval-vq", "--vq", Path.Combine(run, "model"), "--data", "synthetic:8:8");
        Assert.True(e.Code == 0, e.Err);
        Assert.Contains("psnr", e.Out);
        Assert.Contains("/16", e.Out);
        var bad = CliHarness.Run("train-vq", "--data", "no-such-format:x", "--out", run + "2");
        Assert.Equal(1, bad.Code);
        Assert.Single(bad.ErrLines);
    }
}

using Aim.Engine.IO;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Stage2;
using Aim.Models.Training;

namespace Aim.Models.Tests.Training;

/// <summary>Stage-2 training: the loss falls, resume is exact, bad checkpoints are refused, the model folder loads.</summary>
public class Stage2TrainerTests
{
    private static TrainOptions Options(long steps, long saveEvery = 0) => new()
    {
        Steps = steps, Batch = 4, Accum = 2, Lr = 3e-3, Warmup = 2, Clip = 1.0, Ema = 0.9, SaveEvery = saveEvery, Seed = 11,
    };

    private static (AimModel Model, Stage2Trainer Trainer) Make(string shards, string run, TrainOptions options, AimConfig? config = null)
    {
        var model = new AimModel(config ?? TrainTestData.TinyAim);
        model.InitializeRandom(new Rng(options.Seed));
        return (model, new Stage2Trainer(model, TokenShardReader.Open(shards), options, run));
    }

    private static Dictionary<string, float[]> Weights(AimModel m) => m.NamedParameters().ToDictionary(p => p.Name, p => p.Value.ToArray<float>());

    [Fact]
    public void LossFallsOnATinyProblemAndTheModelFolderLoads()
    {
        string shards = TrainTestData.WriteShards(TrainTestData.TempDir("shards"));
        string run = TrainTestData.TempDir("run");
        var (model, trainer) = Make(shards, run, Options(20) with { Ema = 0, Warmup = 0, Lr = 1e-2 });
        using (model)
        using (trainer)
        {
            var losses = new List<double>();
            trainer.Progress = p => losses.Add(p.Loss);
            var result = trainer.Run();
            Assert.True(result.Completed);
            Assert.Equal(20, losses.Count);
            double first = losses.Take(3).Average(), last = losses.TakeLast(3).Average();
            Assert.True(last < 0.7 * first, $"loss {first:F3} → {last:F3}");
            using var loaded = AimCheckpoint.Load(trainer.ModelDir, Device.Cpu, out _);
            var expected = Weights(model);
            foreach (var (name, p) in loaded.NamedParameters()) Assert.Equal(expected[name], p.ToArray<float>());
        }
    }

    [Fact]
    public void InterruptedAndResumedRunEqualsUninterruptedBitForBit()
    {
        string shards = TrainTestData.WriteShards(TrainTestData.TempDir("shards"));
        string straight = TrainTestData.TempDir("straight"), split = TrainTestData.TempDir("split");
        Dictionary<string, float[]> a, b;
        var (m1, t1) = Make(shards, straight, Options(6));
        using (m1)
        using (t1)
        {
            t1.Run();
            a = Weights(m1);
        }
        using (var cts = new CancellationTokenSource())
        {
            var (m2, t2) = Make(shards, split, Options(6, saveEvery: 2));
            using (m2)
            using (t2)
            {
                t2.Progress = p => { if (p.Step == 3) cts.Cancel(); };
                var r = t2.Run(cts.Token);
                Assert.False(r.Completed);
                Assert.Equal(3, r.FinalStep);
            }
        }
        var (m3, t3) = Make(shards, split, Options(6, saveEvery: 2));
        using (m3)
        using (t3)
        {
            Assert.Equal(3, t3.Resume());
            var r = t3.Run();
            Assert.True(r.Completed);
            Assert.Equal(3, r.StepsRun);
            b = Weights(m3);
        }
        foreach (var (name, w) in a) Assert.True(w.AsSpan().SequenceEqual(b[name]), $"{name} differs after resume");
        // The EMA model folders agree too.
        using var sa = SafetensorsFile.Load(Path.Combine(straight, "model", "model.safetensors"));
        using var sb = SafetensorsFile.Load(Path.Combine(split, "model", "model.safetensors"));
        foreach (var k in sa.Keys) Assert.True(sa[k].ToArray<float>().AsSpan().SequenceEqual(sb[k].ToArray<float>()), $"EMA {k} differs");
    }

    [Fact]
    public void CorruptTruncatedOrMismatchedCheckpointsAreRefused()
    {
        string shards = TrainTestData.WriteShards(TrainTestData.TempDir("shards"));
        string run = TrainTestData.TempDir("run");
        var (m, t) = Make(shards, run, Options(2));
        using (m)
        using (t) t.Run();
        string ckpt = Path.Combine(run, TrainCheckpoint.FileName);
        byte[] good = File.ReadAllBytes(ckpt);

        string Refusal(Func<TrainOptions, TrainOptions>? change = null, AimConfig? config = null)
        {
            var (mm, tt) = Make(shards, run, (change ?? (o => o))(Options(4)), config);
            using (mm)
            using (tt) return Assert.Throws<InvalidDataException>(() => tt.Resume()).Message;
        }

        Assert.Contains("another model config", Refusal(config: TrainTestData.TinyAim with { NLayer = 3 }), StringComparison.Ordinal);
        Assert.Contains("--batch 4", Refusal(o => o with { Batch = 2 }), StringComparison.Ordinal);
        Assert.Contains("--seed", Refusal(o => o with { Seed = 12 }), StringComparison.Ordinal);

        File.WriteAllBytes(ckpt, good[..(good.Length / 2)]);
        Assert.Contains("truncated", Refusal(), StringComparison.Ordinal);

        var flipped = (byte[])good.Clone();
        flipped[^5] ^= 0x40;
        File.WriteAllBytes(ckpt, flipped);
        Assert.Contains("checksum", Refusal(), StringComparison.Ordinal);

        File.Copy(Path.Combine(run, "model", "model.safetensors"), ckpt, overwrite: true);
        Assert.Contains("not a training checkpoint", Refusal(), StringComparison.Ordinal);

        // The good file still resumes, and no temporary files were left behind by the atomic writes.
        File.WriteAllBytes(ckpt, good);
        var (m2, t2) = Make(shards, run, Options(4));
        using (m2)
        using (t2) Assert.Equal(2, t2.Resume());
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void DataThatDoesNotFitTheModelIsRefused()
    {
        string shards = TrainTestData.WriteShards(TrainTestData.TempDir("shards"));
        var e = Assert.Throws<ArgumentException>(() => Make(shards, TrainTestData.TempDir("run"), Options(1), TrainTestData.TinyAim with { VocabSize = 32 }));
        Assert.Contains("does not fit the data", e.Message, StringComparison.Ordinal);
    }
}

using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Checkpoints;
using Aim.Models.Training;
using Aim.Models.Vq;

namespace Aim.Models.Tests.Training;

/// <summary>VQ training: straight-through quantiser, falling loss, resume, loadable folder, evaluation metrics.</summary>
public class VqTrainerTests
{
    private static TrainOptions Options(long steps) => new() { Steps = steps, Batch = 4, Lr = 5e-3, Clip = 1.0, Seed = 5, SaveEvery = 0 };

    private static VqModel NewModel(ulong seed)
    {
        var model = new VqModel(TrainTestData.TinyVq);
        VqTrainer.InitializeRandom(model, new Rng(seed));
        return model;
    }

    [Fact]
    public void StraightThroughQuantEqualsCodebookRowsAndPassesGradientToTheLatent()
    {
        using var model = NewModel(1);
        using var scope = TensorScope.Open();
        var latent = new Rng(2).Normal([2, 4, 4, 4]);
        latent.RequiresGrad = true;
        var (quant, _, _, codes) = VqTrainer.QuantizeStraightThrough(model, latent);
        Tensor reference;
        using (Tape.NoGrad()) reference = model.CodebookEntry(Ops.Reshape(codes, 2, 16));
        // quant = z + (e − z): equal to e up to rounding in the two fp32 operations.
        Compare(reference.ToArray<float>(), Ops.Contiguous(quant).ToArray<float>(), 1e-6);
        Tape.Backward(Ops.Sum(quant));
        Assert.NotNull(latent.Grad);
        Assert.Contains(latent.Grad!.ToArray<float>(), g => g != 0);
        latent.ZeroGrad();
    }

    private static void Compare(float[] a, float[] b, double tol)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= tol, $"[{i}] {a[i]} vs {b[i]}");
    }

    [Fact]
    public void LossFallsResumeIsExactAndTheFolderLoadsAndEvaluates()
    {
        var data = new SyntheticImageDataset(24, 8);
        string straight = TrainTestData.TempDir("vq-straight"), split = TrainTestData.TempDir("vq-split");
        var losses = new List<double>();
        float[][] a;
        using (var model = NewModel(3))
        using (var trainer = new VqTrainer(model, data, Options(10), straight) { EdgeWeight = 0.1 })
        {
            trainer.Progress = p => losses.Add(p.Parts["rec"]);
            trainer.Run();
            a = model.NamedParameters().Select(p => p.Value.ToArray<float>()).ToArray();
        }
        Assert.True(losses.TakeLast(2).Average() < 0.7 * losses.Take(2).Average(), $"reconstruction loss {losses[0]:F4} → {losses[^1]:F4}");

        using (var cts = new CancellationTokenSource())
        using (var model = NewModel(3))
        using (var trainer = new VqTrainer(model, data, Options(10), split) { EdgeWeight = 0.1 })
        {
            trainer.Progress = p => { if (p.Step == 4) cts.Cancel(); };
            Assert.Equal(4, trainer.Run(cts.Token).FinalStep);
        }
        using (var model = NewModel(3))
        using (var trainer = new VqTrainer(model, data, Options(10), split) { EdgeWeight = 0.1 })
        {
            trainer.Resume();
            trainer.Run();
            var b = model.NamedParameters().Select(p => p.Value.ToArray<float>()).ToArray();
            for (int i = 0; i < a.Length; i++) Assert.True(a[i].AsSpan().SequenceEqual(b[i]), $"parameter {i} differs after resume");
        }

        using var loaded = VqCheckpoint.Load(Path.Combine(straight, "model"), out _);
        Assert.Equal(TrainTestData.TinyVq.CodebookSize, loaded.Config.CodebookSize);
        var metrics = VqEvaluator.Evaluate(loaded, data, batch: 10);
        Assert.Equal(24, metrics.Images);
        Assert.InRange(metrics.CodesUsed, 1, 16);
        Assert.InRange(metrics.Perplexity, 1, metrics.CodesUsed + 1e-9);
        Assert.True(metrics.Psnr > 10 && double.IsFinite(metrics.Mse), $"psnr {metrics.Psnr}");
    }

    [Fact]
    public void ImagesOfTheWrongSizeAreRefused()
    {
        using var model = NewModel(1);
        var e = Assert.Throws<ArgumentException>(() => new VqTrainer(model, new SyntheticImageDataset(4, 16), Options(1), TrainTestData.TempDir("vq-bad")));
        Assert.Contains("3x8x8", e.Message, StringComparison.Ordinal);
    }
}

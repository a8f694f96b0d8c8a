// Holds: VQ tokenizer training (LlamaGen's VQ loss without the perceptual and GAN terms, spec §8.5):
//   z = l2norm(latent rows), e = l2norm(codebook)[argmin ‖z − e‖],
//   codebook loss = mean((e − sg(z))²), commitment loss = β·mean((sg(e) − z)²) with β = 0.25,
//   straight-through quantisation quant = z + sg(e − z), reconstruction loss = mean((decode(quant) − x)²) (L2).
// Optional sharpness aid (--edge-weight, off by default): a Charbonnier penalty √(d² + ε²) − ε, ε = 1e-3, on the
// difference between the horizontal and vertical finite differences of the reconstruction and of the target.
// Why: L2 alone is minimised by the average of the plausible details, i.e. blur; matching image gradients with an
// L1-like penalty makes a smeared edge cost as much as a misplaced one, without a perceptual network or a GAN.
using Aim.Engine.Autograd;
using Aim.Engine.IO;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Data;
using Aim.Models.Vq;

namespace Aim.Models.Training;

/// <summary>Trains a <see cref="VqModel"/> on an <see cref="IImageDataset"/>.</summary>
public sealed class VqTrainer : TrainerBase
{
    /// <summary>The training-usage buffer, never optimised.</summary>
    public const string UsageBufferName = "quantize.codebook_used";

    private const double CharbonnierEps = 1e-3;

    private readonly VqModel _model;
    private readonly IImageDataset _data;

    /// <summary>Commitment weight β.</summary>
    public double Beta { get; init; } = 0.25;

    /// <summary>Weight of the edge (image-gradient) loss; 0 turns it off.</summary>
    public double EdgeWeight { get; init; }

    /// <summary>A trainer for an initialised <paramref name="model"/> on <paramref name="data"/> (sizes must match the config).</summary>
    public VqTrainer(VqModel model, IImageDataset data, TrainOptions options, string runDir)
        : base("vq", model, model.NamedParameters().Where(p => p.Name != UsageBufferName), model.Config.ToJson(), Identity(data), data.Count, options, runDir)
    {
        var c = model.Config;
        if (data.ImageSize != c.ImageSize || data.Channels != c.InChannels)
            throw new ArgumentException($"train-vq: the model takes {c.InChannels}x{c.ImageSize}x{c.ImageSize} images, the dataset gives {data.Channels}x{data.ImageSize}x{data.ImageSize}");
        _model = model;
        _data = data;
    }

    /// <summary>What checkpoints record about an image dataset.</summary>
    public static string Identity(IImageDataset data) => $"images: {data.Count} of {data.Channels}x{data.ImageSize}x{data.ImageSize}, {data.ClassNames.Count} classes";

    /// <summary>
    /// PyTorch-default initial weights: convolutions (weight and bias) U(±1/√fan_in), the codebook U(±1/K) as
    /// LlamaGen does; GroupNorm stays 1/0 and the usage buffer 0.
    /// </summary>
    public static void InitializeRandom(VqModel model, Rng rng)
    {
        var all = model.NamedParameters().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        foreach (var (name, p) in all)
        {
            using var scope = TensorScope.Open();
            Tensor? value = null;
            if (name == "quantize.embedding.weight")
                value = rng.Uniform(p.Shape, -1.0 / p.Shape[0], 1.0 / p.Shape[0]);
            else if (p.Rank == 4)
                value = rng.Uniform(p.Shape, -Bound(p), Bound(p));
            else if (name.EndsWith(".bias", StringComparison.Ordinal) && all.TryGetValue(name[..^5] + ".weight", out var w) && w.Rank == 4)
                value = rng.Uniform(p.Shape, -Bound(w), Bound(w));
            if (value is not null) Ops.CopyInto(value, p);
        }
    }

    private static double Bound(Tensor convWeight) => 1 / Math.Sqrt(convWeight.Shape[1] * convWeight.Shape[2] * convWeight.Shape[3]);

    /// <inheritdoc />
    protected override string ItemName => "images";

    /// <summary>Reads images <paramref name="indices"/> into a (B, C, S, S) tensor on <paramref name="device"/>.</summary>
    internal static Tensor ReadImages(IImageDataset data, int[] indices, Device device)
    {
        int per = data.Channels * data.ImageSize * data.ImageSize;
        var pixels = new float[indices.Length * per];
        for (int i = 0; i < indices.Length; i++) data.Read(indices[i], pixels.AsSpan(i * per, per));
        return Tensor.FromArray(pixels, [indices.Length, data.Channels, data.ImageSize, data.ImageSize], device);
    }

    /// <summary>
    /// The quantiser's training forward. latent: (N, e, h, w) → (straight-through quant (N, e, h, w), normalised
    /// latent rows z (Nhw, e), selected normalised codebook rows (Nhw, e), codes (Nhw) i64).
    /// </summary>
    internal static (Tensor Quant, Tensor Z, Tensor E, Tensor Codes) QuantizeStraightThrough(VqModel model, Tensor latent)
    {
        int n = latent.Shape[0], e = latent.Shape[1], h = latent.Shape[2], w = latent.Shape[3];
        var z = Ops.L2Normalize(Ops.Reshape(Ops.Permute(latent, 0, 2, 3, 1), n * h * w, e));   // (Nhw, e)
        var codebook = Ops.L2Normalize(model.Codebook);                                      // (K, e)
        var codes = Ops.NearestCode(z, codebook);                                            // (Nhw)
        var rows = Ops.Embedding(codebook, codes);                                           // (Nhw, e)
        Tensor shift;
        using (Tape.NoGrad()) shift = Ops.Sub(rows, z);                                      // sg(e − z)
        var quant = Ops.Add(z, shift);                                                       // z + sg(e − z)
        var latentQ = Ops.Permute(Ops.Reshape(quant, n, h, w, e), 0, 3, 1, 2);              // (N, e, h, w)
        return (latentQ, z, rows, codes);
    }

    /// <inheritdoc />
    protected override (double Loss, long Items, IReadOnlyDictionary<string, double> Parts) MicroBatch(int[] indices, Rng rng)
    {
        // --precision bf16: the attention products run in bf16 (Autocast); convolutions, norms and the codebook stay float32.
        using (Autocast.Enable(Options.ProductDType)) return MicroBatchLoss(indices);
    }

    private (double Loss, long Items, IReadOnlyDictionary<string, double> Parts) MicroBatchLoss(int[] indices)
    {
        var x = ReadImages(_data, indices, _model.Codebook.Device);                                                // (B, C, S, S)
        var (quant, z, rows, codes) = QuantizeStraightThrough(_model, _model.EncodeLatent(x));
        Tensor zStop, rowsStop;
        using (Tape.NoGrad())
        {
            zStop = Ops.Contiguous(z);
            rowsStop = Ops.Contiguous(rows);
        }
        var codebookLoss = Ops.Mean(Ops.Square(Ops.Sub(rows, zStop)));
        var commitLoss = Ops.Scale(Ops.Mean(Ops.Square(Ops.Sub(z, rowsStop))), Beta);
        var recon = _model.DecodeLatent(quant);                                              // (B, C, S, S)
        var recLoss = Ops.Mean(Ops.Square(Ops.Sub(recon, x)));
        var loss = Ops.Add(Ops.Add(recLoss, codebookLoss), commitLoss);
        double edge = 0;
        if (EdgeWeight > 0)
        {
            var edgeLoss = EdgeLoss(recon, x);
            edge = edgeLoss.Item();
            loss = Ops.Add(loss, Ops.Scale(edgeLoss, EdgeWeight));
        }
        double value = loss.Item();
        var parts = new Dictionary<string, double>
        {
            ["rec"] = recLoss.Item(),
            ["codebook"] = codebookLoss.Item(),
            ["commit"] = commitLoss.Item(),
            ["codes_used"] = codes.ToArray<long>().Distinct().Count(),
        };
        if (EdgeWeight > 0) parts["edge"] = edge;
        Tape.Backward(loss);
        return (value, indices.Length, parts);
    }

    /// <summary>Mean Charbonnier distance between the finite differences of a and b, both (B, C, H, W).</summary>
    private static Tensor EdgeLoss(Tensor a, Tensor b)
    {
        int hgt = a.Shape[2], wid = a.Shape[3];
        var d = Ops.Sub(a, b);
        var dx = Ops.Sub(Ops.Narrow(d, 3, 1, wid - 1), Ops.Narrow(d, 3, 0, wid - 1));
        var dy = Ops.Sub(Ops.Narrow(d, 2, 1, hgt - 1), Ops.Narrow(d, 2, 0, hgt - 1));
        Tensor Charb(Tensor t) => Ops.AddScalar(Ops.Sqrt(Ops.AddScalar(Ops.Square(t), CharbonnierEps * CharbonnierEps)), -CharbonnierEps);
        return Ops.Add(Ops.Mean(Charb(dx)), Ops.Mean(Charb(dy)));
    }

    /// <inheritdoc />
    protected override void WriteModelFolder(string dir, IEnumerable<KeyValuePair<string, Tensor>> weights)
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), _model.Config.ToJson());
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), weights);
    }
}

// The class-conditional accuracy probe (issue 5): a small classifier trained on held-out real images, then used to
// label generated images; the share labelled as the class they were asked for measures how well the generator
// follows its conditioning. Classifier: an MLP on the first channel (grayscale data is replicated to RGB) of the
// central crop (the 2-pixel border is padding in the data and where the decoder's edge artifacts sit), hidden 256
// (SiLU), AdamW, cross-entropy, inputs jittered with Gaussian noise (σ 0.1) so the probe does not key on pixel
// noise a generator leaves; trained on the CPU in under a minute.
using Aim.Engine.Autograd;
using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Optim;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Data;

namespace Aim.Models.Evaluation;

/// <summary>A trained probe classifier over single-channel images of one size.</summary>
public sealed class ClassProbe : IDisposable
{
    private const int Border = 2;
    private const double Jitter = 0.1;
    private readonly Linear _hidden, _output;
    private readonly int _pixels, _size;

    private ClassProbe(int size, int classes, Rng rng)
    {
        _size = size;
        int inner = size - 2 * Border;
        int pixels = inner * inner;
        _pixels = pixels;
        _hidden = new Linear(pixels, 256, bias: true);
        _output = new Linear(256, classes, bias: true);
        foreach (var layer in new[] { _hidden, _output })
        {
            // PyTorch's Linear default: U(±1/√fan_in) for the weight, bias zero here.
            double bound = 1 / Math.Sqrt(layer.Weight.Shape[1]);
            using var w = rng.Uniform(layer.Weight.Shape, -bound, bound);
            Ops.CopyInto(w, layer.Weight);
        }
    }

    /// <summary>Trains on every image of <paramref name="data"/> for <paramref name="epochs"/> passes.</summary>
    public static ClassProbe Train(IImageDataset data, int epochs, ulong seed, Action<string>? log = null)
    {
        int size = data.ImageSize, n = data.Count;
        var rng = new Rng(seed);
        var probe = new ClassProbe(size, data.ClassNames.Count, rng);
        int pixels = probe._pixels;
        var x = new float[(long)n * pixels];
        var y = new long[n];
        var buffer = new float[data.Channels * size * size];
        for (int i = 0; i < n; i++)
        {
            y[i] = data.Read(i, buffer);
            probe.Crop(buffer, x.AsSpan(i * pixels, pixels));
        }
        var parameters = probe._hidden.NamedParameters("h.").Concat(probe._output.NamedParameters("o.")).ToList();
        foreach (var (_, p) in parameters) p.RequiresGrad = true;
        using var optimizer = new AdamW(parameters, new AdamWOptions { WeightDecay = 0.0 });
        const int batch = 128;
        var order = Enumerable.Range(0, n).ToArray();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int i = n - 1; i > 0; i--)
            {
                int j = rng.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start < n; start += batch)
            {
                using var scope = TensorScope.Open();
                int b = Math.Min(batch, n - start);
                var xb = new float[b * pixels];
                var yb = new long[b];
                for (int k = 0; k < b; k++)
                {
                    x.AsSpan(order[start + k] * pixels, pixels).CopyTo(xb.AsSpan(k * pixels, pixels));
                    yb[k] = y[order[start + k]];
                    for (int q = 0; q < pixels; q++) xb[k * pixels + q] += (float)(Jitter * rng.NextNormal());
                }
                var loss = Ops.CrossEntropy(probe.Logits(Tensor.FromArray(xb, [b, pixels])), Tensor.FromArray(yb, [b]));
                lossSum += loss.Item();
                batches++;
                Tape.Backward(loss);
                using (Tape.NoGrad()) optimizer.Step(1e-3);
                foreach (var (_, p) in parameters) p.ZeroGrad();
            }
            log?.Invoke($"probe epoch {epoch + 1}/{epochs}: loss {lossSum / batches:F4}");
        }
        foreach (var (_, p) in parameters) p.RequiresGrad = false;
        return probe;
    }

    /// <summary>The central crop of the first channel, clamped to [-1, 1].</summary>
    private void Crop(ReadOnlySpan<float> image, Span<float> output)
    {
        int inner = _size - 2 * Border;
        for (int r = 0; r < inner; r++)
            for (int c = 0; c < inner; c++)
                output[r * inner + c] = Math.Clamp(image[(r + Border) * _size + c + Border], -1f, 1f);
    }

    private Tensor Logits(Tensor x) => _output.Forward(Ops.Silu(_hidden.Forward(x)));

    /// <summary>Predicted classes of images (N, C, H, W) in [-1, 1] (values are clamped to that range first).</summary>
    public int[] Predict(Tensor images)
    {
        int n = images.Shape[0];
        var all = images.ToFloatArray();
        int per = all.Length / n;
        if (images.Shape[2] != _size || images.Shape[3] != _size)
            throw new ArgumentException($"probe: images {Tensor.ShapeString(images.Shape)} are not {_size}x{_size}");
        var x = new float[n * _pixels];
        for (int i = 0; i < n; i++) Crop(all.AsSpan(i * per, per), x.AsSpan(i * _pixels, _pixels));
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        var logits = Logits(Tensor.FromArray(x, [n, _pixels])).ToArray<float>();
        int classes = logits.Length / n;
        var result = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (logits[i * classes + c] > logits[i * classes + best]) best = c;
            result[i] = best;
        }
        return result;
    }

    /// <summary>Share of <paramref name="limit"/> images of <paramref name="data"/>, evenly spread over it, classified correctly.</summary>
    public double Accuracy(IImageDataset data, int limit)
    {
        int n = Math.Min(limit, data.Count), pixels = data.ImageSize * data.ImageSize;
        var buffer = new float[data.Channels * pixels];
        var images = new float[(long)n * data.Channels * pixels];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = data.Read((int)((long)i * data.Count / n), buffer);
            buffer.CopyTo(images.AsSpan(i * buffer.Length));
        }
        using var t = Tensor.FromArray(images, [n, data.Channels, data.ImageSize, data.ImageSize]);
        var predicted = Predict(t);
        return predicted.Zip(labels).Count(p => p.First == p.Second) / (double)n;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _hidden.Dispose();
        _output.Dispose();
    }
}

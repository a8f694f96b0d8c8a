using Aim.BackendOps;
using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Generation;

namespace Aim.Models.Tests.Generation;

/// <summary>The SampleTokens kernel against the host sampler the decoder uses: same guided logits, same uniforms, same tokens.</summary>
public class SampleTokensParityTests
{
    [Theory]
    [InlineData(5.0, 600, 0.98, 1.0)]
    [InlineData(1.5, 0, 0.9, 0.7)]
    [InlineData(4.0, 50, 1.0, 1.0)]
    [InlineData(0.1, 0, 1.0, 1.3)]
    public void FirstStepMatchesTheHostSampler(double cfg, int topK, double topP, double temperature)
    {
        using var scope = TensorScope.Open();
        int b = 5, v = 1024, t = 16;
        ulong seed = 0xABCDEF, counterBase = 9;
        var logits = OpCases.GuidancePair(new Rng(21), b, v);
        // The eager decoder's guided logits (AimDecoder.Run) and the host sampler with a fresh generator.
        var cond = Ops.Narrow(logits, 0, 0, b);
        var uncond = Ops.Narrow(logits, 0, b, b);
        var guided = Ops.Add(uncond, Ops.Scale(Ops.Sub(cond, uncond), cfg)).ToArray<float>();
        var options = new SamplingOptions { CfgScale = cfg, TopK = topK, TopP = topP, Temperature = temperature };
        var expected = Sampler.Sample(guided, b, v, options, new Rng(seed, counterBase));

        var steps = Tensor.Zeros([2 * b], DType.Int64);
        var tokens = Tensor.Empty([2 * b], DType.Int64);
        var positions = Tensor.Empty([2 * b], DType.Int64);
        var history = Tensor.Zeros([b, t], DType.Int64);
        Ops.SampleTokens(logits, steps, tokens, positions, history, new SampleSettings(cfg, topK, topP, temperature, seed, counterBase, 0));
        Assert.Equal([.. expected, .. expected], tokens.ToArray<long>());
    }
}

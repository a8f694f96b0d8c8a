using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// SampleTokens behaviours the harness does not cover: argument errors, the host kernels' refusals (step outside
/// [0, T), a row with nothing to sample) leaving the outputs untouched, the decode-state update, and the uniform
/// stream across steps.
/// </summary>
public class SampleTokensTests
{
    private static readonly ReferenceKernels s_reference = new();
    private static readonly SampleSettings s_defaults = new(5, 600, 0.98, 1, 42, 3, 1);

    private sealed class State : IDisposable
    {
        private readonly TensorScope _scope = TensorScope.Open();

        public State(int b, int v, int t, long step, ulong seed = 1)
        {
            Logits = new Rng(seed).Normal([2 * b, v], 0, 3);
            Steps = Tensor.Full([2 * b], step, DType.Int64);
            Tokens = Tensor.Full([2 * b], -5, DType.Int64);
            Positions = Tensor.Full([2 * b], -5, DType.Int64);
            History = Tensor.Full([b, t], -9, DType.Int64);
        }

        public Tensor Logits { get; set; }
        public Tensor Steps { get; set; }
        public Tensor Tokens { get; set; }
        public Tensor Positions { get; set; }
        public Tensor History { get; set; }

        public void Run(in SampleSettings settings) => Ops.SampleTokens(Logits, Steps, Tokens, Positions, History, settings);

        public void Dispose() => _scope.Dispose();
    }

    public static TheoryData<string> BadArguments() =>
    [
        "odd-rows", "i32-steps", "tokens-shape", "history-rows", "f64-logits", "transposed-logits",
        "top-k", "top-p-zero", "top-p-above-one", "temperature", "shift", "cfg-nan",
    ];

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void BadArgumentsThrowNamingTheOp(string what)
    {
        foreach (var kernels in new IKernels[] { s_reference, Backend.Cpu.Kernels })
        {
            using var s = new State(2, 7, 4, 0);
            var settings = s_defaults;
            switch (what)
            {
                case "odd-rows": s.Logits = new Rng(1).Normal([3, 7]); break;
                case "i32-steps": s.Steps = Tensor.Zeros([4], DType.Int32); break;
                case "tokens-shape": s.Tokens = Tensor.Zeros([2], DType.Int64); break;
                case "history-rows": s.History = Tensor.Zeros([4, 4], DType.Int64); break;
                case "f64-logits": s.Logits = Ops.Cast(s.Logits, DType.Float64); break;
                case "transposed-logits": s.Logits = Ops.Transpose(new Rng(1).Normal([7, 4]), 0, 1); break;
                case "top-k": settings = settings with { TopK = -1 }; break;
                case "top-p-zero": settings = settings with { TopP = 0 }; break;
                case "top-p-above-one": settings = settings with { TopP = 1.01 }; break;
                case "temperature": settings = settings with { Temperature = 0 }; break;
                case "shift": settings = settings with { PositionShift = 2 }; break;
                case "cfg-nan": settings = settings with { CfgScale = double.NaN }; break;
            }
            var e = Assert.Throws<ArgumentException>(() => kernels.SampleTokens(s.Logits, s.Steps, s.Tokens, s.Positions, s.History, settings));
            Assert.Contains("SampleTokens", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(4L)]
    public void StepOutsideTheSequenceThrowsAndWritesNothing(long step)
    {
        foreach (var kernels in new IKernels[] { s_reference, Backend.Cpu.Kernels })
        {
            using var s = new State(2, 7, 4, 0);
            s.Steps.AsSpan<long>()[1] = step;
            s.Steps.AsSpan<long>()[3] = step;
            var e = Assert.Throws<InvalidOperationException>(() => kernels.SampleTokens(s.Logits, s.Steps, s.Tokens, s.Positions, s.History, s_defaults));
            Assert.Contains("SampleTokens", e.Message, StringComparison.Ordinal);
            Assert.Equal([0L, step, 0L, step], s.Steps.ToArray<long>());
            Assert.All(s.Tokens.ToArray<long>(), x => Assert.Equal(-5, x));
            Assert.All(s.History.ToArray<long>(), x => Assert.Equal(-9, x));
        }
    }

    [Fact]
    public void RowWithNothingToSampleThrows()
    {
        foreach (var kernels in new IKernels[] { s_reference, Backend.Cpu.Kernels })
        {
            using var s = new State(2, 7, 4, 0);
            // Image 1's conditional row at -inf: guided = u + (−inf)·cfg = −inf everywhere.
            s.Logits.AsSpan<float>().Slice(7, 7).Fill(float.NegativeInfinity);
            Assert.Throws<InvalidOperationException>(() => kernels.SampleTokens(s.Logits, s.Steps, s.Tokens, s.Positions, s.History, s_defaults));
            Assert.All(s.Tokens.ToArray<long>(), x => Assert.Equal(-5, x));
        }
    }

    [Theory]
    [InlineData(0, 0L)]
    [InlineData(1, 0L)]
    [InlineData(0, 3L)]
    [InlineData(1, 3L)]
    public void StateIsAdvanced(int shift, long step)
    {
        using var s = new State(3, 11, 4, step);
        s.Run(s_defaults with { PositionShift = shift });
        var tokens = s.Tokens.ToArray<long>();
        var history = s.History.ToArray<long>();
        Assert.Equal(Enumerable.Repeat(step + 1, 6), s.Steps.ToArray<long>());
        Assert.Equal(Enumerable.Repeat(step + 1 - shift, 6), s.Positions.ToArray<long>());
        for (int b = 0; b < 3; b++)
        {
            Assert.InRange(tokens[b], 0, 10);
            Assert.Equal(tokens[b], tokens[3 + b]);
            for (int j = 0; j < 4; j++) Assert.Equal(j == step ? tokens[b] : -9, history[b * 4 + j]);
        }
    }

    [Fact]
    public void StepsDrawConsecutiveUniformsOfOneStream()
    {
        // Four steps over 3 images (odd, so draws straddle Philox blocks) use uniforms 0..11 of new Rng(seed, base),
        // image by image within a step: TokenSampler fed from one sequential generator gives the same history.
        int b = 3, v = 50, t = 4;
        var settings = s_defaults with { TopK = 10, TopP = 0.9, Temperature = 0.8, Seed = 77, CounterBase = 5 };
        using var s = new State(b, v, t, 0, seed: 8);
        var rng = new Rng(settings.Seed, settings.CounterBase);
        var expected = new long[b * t];
        var logits = s.Logits.ToArray<float>();
        var scratch = new TokenSampler.Scratch(v);
        for (int step = 0; step < t; step++)
        {
            s.Run(settings);
            for (int i = 0; i < b; i++)
            {
                var row = new float[v];
                TokenSampler.Guide(logits.AsSpan(i * v, v), logits.AsSpan((b + i) * v, v), settings.CfgScale, row);
                expected[i * t + step] = TokenSampler.SampleRow(row, settings.TopK, settings.TopP, settings.Temperature, rng.NextDouble(), scratch);
            }
        }
        Assert.Equal(expected, s.History.ToArray<long>());
    }
}

/// <summary>The radix selection of the k-th largest logit against sorting, on rows with ties, signed zeros and infinities.</summary>
public class KthLargestTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(257, 1)]
    [InlineData(257, 256)]
    [InlineData(16384, 600)]
    public void EqualsTheSortedValue(int length, int k)
    {
        var rng = new Aim.Engine.Random.Rng((ulong)(length * 31 + k));
        var row = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u = rng.NextDouble();
            row[i] = u < 0.05 ? 0f : u < 0.1 ? -0f : u < 0.12 ? float.NegativeInfinity : u < 0.13 ? float.PositiveInfinity
                : (float)Math.Round(rng.NextNormal() * 3, 1);    // rounded: many exact ties
        }
        var sorted = (float[])row.Clone();
        Array.Sort(sorted);
        float expected = sorted[length - k];
        float actual = Aim.Engine.Kernels.Reference.TokenSampler.KthLargest(row, k, new float[length]);
        Assert.True(expected == actual || (float.IsNaN(expected) && float.IsNaN(actual)), $"k={k}: {actual} vs {expected}");
    }
}

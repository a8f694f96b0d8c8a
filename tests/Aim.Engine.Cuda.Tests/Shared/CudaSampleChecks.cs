// CUDA-only checks of SampleTokens the harness cannot make, because the host kernels throw there: a step outside
// [0, T) (token 0 and position 0, step and history left alone) and a guided row that is all -inf (token 0, the state
// advanced), next to ordinary images sampled exactly as TokenSampler does; and repeated calls giving the same tokens,
// for the shared-memory and the global-scratch top-p sorts.
using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

/// <summary>The SampleTokens CUDA checks, in the result format of <see cref="CudaHarness"/>.</summary>
public static class CudaSampleChecks
{
    /// <summary>Every check, each run lazily.</summary>
    public static IEnumerable<Func<CudaCaseResult>> All()
    {
        yield return StepOutOfRangeAndEmptyRow;
        yield return () => Repeatable("SampleTokens.repeatable(V=16384,B=8,defaults)", new SampleSettings(5, 600, 0.98, 1, 3, 0, 1));
        yield return () => Repeatable("SampleTokens.repeatable(V=16384,B=8,top-p0.98,k=0)", new SampleSettings(5, 0, 0.98, 1, 3, 0, 1));
    }

    private static CudaCaseResult Run(string name, Func<CudaCaseResult> body) => CudaHarness.Guard(name, body);

    private static CudaCaseResult StepOutOfRangeAndEmptyRow() => Run("SampleTokens.device-fallbacks(step out of range, -inf row)", () =>
    {
        const string name = "SampleTokens.device-fallbacks(step out of range, -inf row)";
        int b = 4, v = 300, t = 6;
        var settings = new SampleSettings(5, 50, 0.9, 1, 0xF00D, 2, 1);
        var rng = new Rng(0x5A11);
        var logits = OpCases.GuidancePair(rng, b, v).ToArray<float>();
        Array.Fill(logits, float.NegativeInfinity, 2 * v, v);          // image 2's conditional row: guided all -inf
        long[] imageSteps = [2, t, 3, -1];                             // images 1 and 3 outside [0, T)
        var history = new long[b * t];
        for (int i = 0; i < history.Length; i++) history[i] = 100 + i;

        // Image 0 as the host samples it.
        var row = new float[v];
        TokenSampler.Guide(logits.AsSpan(0, v), logits.AsSpan(b * v, v), settings.CfgScale, row);
        long t0 = TokenSampler.SampleRow(row, settings.TopK, settings.TopP, settings.Temperature,
            Philox.UniformDouble(settings.Seed, settings.CounterBase, 2UL * (ulong)b), new TokenSampler.Scratch(v));
        long[] wantTokens = [t0, 0, 0, 0, t0, 0, 0, 0];
        long[] wantSteps = [3, t, 4, -1, 3, t, 4, -1];
        long[] wantPositions = [2, 0, 3, 0, 2, 0, 3, 0];
        var wantHistory = (long[])history.Clone();
        wantHistory[0 * t + 2] = t0;
        wantHistory[2 * t + 3] = 0;

        var device = CudaHarness.Device;
        using var dl = Tensor.FromArray(logits, [2 * b, v], device);
        using var ds = Tensor.FromArray([.. imageSteps, .. imageSteps], [2 * b], device);
        using var dt = Tensor.Full([2 * b], -7, DType.Int64, device);
        using var dp = Tensor.Full([2 * b], -7, DType.Int64, device);
        using var dh = Tensor.FromArray(history, [b, t], device);
        Ops.SampleTokens(dl, ds, dt, dp, dh, settings);
        var problems = new List<string>();
        void Expect(string what, long[] want, Tensor got)
        {
            var g = got.ToArray<long>();
            if (!want.SequenceEqual(g)) problems.Add($"{what} [{string.Join(",", g)}], expected [{string.Join(",", want)}]");
        }
        Expect("tokens", wantTokens, dt);
        Expect("steps", wantSteps, ds);
        Expect("positions", wantPositions, dp);
        Expect("history", wantHistory, dh);
        return new(name, problems.Count == 0 ? "pass" : "FAIL", 0, problems.Count == 0 ? "as sample.cu documents; image 0 as TokenSampler" : string.Join("; ", problems));
    });

    private static CudaCaseResult Repeatable(string name, SampleSettings settings) => Run(name, () =>
    {
        int b = 8, v = 16384, t = 4;
        var device = CudaHarness.Device;
        using var logits = OpCases.GuidancePair(new Rng(0xBEE), b, v).To(device);
        long[]? first = null;
        for (int run = 0; run < 3; run++)
        {
            using var steps = Tensor.Zeros([2 * b], DType.Int64, device);
            using var tokens = Tensor.Empty([2 * b], DType.Int64, device);
            using var positions = Tensor.Empty([2 * b], DType.Int64, device);
            using var history = Tensor.Zeros([b, t], DType.Int64, device);
            for (int s = 0; s < t; s++) Ops.SampleTokens(logits, steps, tokens, positions, history, settings);
            var h = history.ToArray<long>();
            first ??= h;
            if (!first.SequenceEqual(h)) return new(name, "FAIL", 0, $"run {run} gave [{string.Join(",", h)}], run 0 [{string.Join(",", first)}]");
        }
        return new(name, "pass", 0, $"3 runs of {t} steps gave the same {first!.Length} tokens");
    });
}

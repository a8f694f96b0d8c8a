using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: SampleTokens (CFG mix + temperature/top-k/top-p sampling + decode-state update), reference version:
// images one after another through TokenSampler, the host sampling code. Float32 logits only.
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings)
        => SampleTokens(logits, steps, tokens, positions, history, settings, (images, body) => body(0, images));

    /// <summary>
    /// SampleTokens with the images split by <paramref name="forRanges"/>: it calls body(start, end) over ranges that
    /// cover [0, B) once (in sequence or in parallel). Every step is checked and every token drawn before anything is
    /// written, so a failure (<see cref="InvalidOperationException"/>) leaves the outputs untouched.
    /// </summary>
    protected static void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings,
        Action<int, Action<int, int>> forRanges)
    {
        const string op = nameof(SampleTokens);
        var (b, v, t) = SampleChecks.Validate(logits, steps, tokens, positions, history, settings);
        long* ps = (long*)steps.DataPointer;
        for (int i = 0; i < b; i++)
            if (ps[i] < 0 || ps[i] >= t)
                throw new InvalidOperationException($"{op}: image {i} is at step {ps[i]}, outside [0, {t})");
        var set = settings;
        nint pl = logits.DataPointer;
        var drawn = new long[b];
        var failed = new bool[b];
        forRanges(b, (start, end) =>
        {
            var scratch = new TokenSampler.Scratch(v);
            var row = new float[v];
            float* l = (float*)pl;
            for (int i = start; i < end; i++)
            {
                TokenSampler.Guide(new ReadOnlySpan<float>(l + (long)i * v, v), new ReadOnlySpan<float>(l + (long)(b + i) * v, v), set.CfgScale, row);
                double u = Philox.UniformDouble(set.Seed, set.CounterBase, (ulong)ps[i] * (ulong)b + (ulong)i);
                try
                {
                    drawn[i] = TokenSampler.SampleRow(row, set.TopK, set.TopP, set.Temperature, u, scratch);
                }
                catch (InvalidOperationException)
                {
                    failed[i] = true;
                }
            }
        });
        int bad = Array.IndexOf(failed, true);
        if (bad >= 0) throw new InvalidOperationException($"{op}: image {bad}'s guided logits are all -inf or hold a NaN");
        long* pt = (long*)tokens.DataPointer, pp = (long*)positions.DataPointer, ph = (long*)history.DataPointer;
        for (int i = 0; i < b; i++)
        {
            long s = ps[i];
            pt[i] = pt[b + i] = drawn[i];
            ph[(long)i * t + s] = drawn[i];
            ps[i] = ps[b + i] = s + 1;
            pp[i] = pp[b + i] = s + 1 - set.PositionShift;
        }
    }
}

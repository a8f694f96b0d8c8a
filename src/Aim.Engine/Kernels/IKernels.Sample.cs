using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: SampleTokens, one decode step's classifier-free guidance mix and token sampling with every input and
// output on the device, so a decode step needs no host synchronisation (and can be captured as a CUDA graph).
// Formulas: spec §6.2 (CFG mix) and §6.4 (top-k, top-p, multinomial); the host algorithm is
// Reference/TokenSampler.cs, the uniforms Philox.UniformDouble (Random/Philox.cs).
public partial interface IKernels
{
    /// <summary>
    /// Samples one token per image from CFG-mixed logits and advances the decode state, for B images whose rows
    /// are [conditional ; unconditional]. For image b with s = steps[b]:
    /// <list type="number">
    /// <item>guided[i] = u[i] + (c[i] − u[i])·(float)cfg in float32, one rounding per operation (c = logits[b],
    ///       u = logits[B + b]);</item>
    /// <item>when Temperature ≠ 1: guided[i] ← (float)(guided[i] / Temperature) (double division);</item>
    /// <item>top-k when 0 &lt; TopK &lt; V: entries strictly below the TopK-th largest become -inf (ties kept);</item>
    /// <item>top-p when TopP &lt; 1: the entries that are not -inf, sorted ascending, with mass e^(x − max) in double,
    ///       lose those whose cumulative normalised mass is ≤ 1 − TopP, the largest always kept;</item>
    /// <item>draw with the uniform Philox.UniformDouble(Seed, CounterBase, s·B + b): the first index (vocabulary order)
    ///       whose running sum of e^(x − max) exceeds u·Σ e^(x − max) (doubles), else the last index with positive mass;</item>
    /// <item>tokens[b] = tokens[B + b] = t; history[b, s] = t; steps[b] = steps[B + b] = s + 1;
    ///       positions[b] = positions[B + b] = s + 1 − PositionShift.</item>
    /// </list>
    /// With step s drawing uniforms s·B … s·B + B − 1, a whole generation consumes one <c>new Rng(Seed, CounterBase)</c>
    /// stream in row order, as the host sampler does. Host-side argument errors throw <see cref="ArgumentException"/>
    /// naming the op. The host kernels throw <see cref="InvalidOperationException"/> before writing anything when a
    /// step is outside [0, T) or a guided row is all -inf or holds a NaN. A device kernel cannot throw: on CUDA an
    /// image whose step is outside [0, T) gets token 0 and position 0 with its step and history left as they are, and
    /// a row with nothing to sample gets token 0 with the state advanced as usual.
    /// </summary>
    /// <param name="logits">(2B, V) float32, contiguous: rows [0, B) conditional, [B, 2B) unconditional.</param>
    /// <param name="steps">(2B) int64, read and advanced: the index of the token being sampled (rows b and B + b equal; row b is read).</param>
    /// <param name="tokens">(2B) int64, written: the sampled token, for both halves.</param>
    /// <param name="positions">(2B) int64, written: the position index the next step's token input uses.</param>
    /// <param name="history">(B, T) int64, element [b, s] written.</param>
    /// <param name="settings">CFG scale, top-k, top-p, temperature, the random stream and the position convention.</param>
    void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings);
}

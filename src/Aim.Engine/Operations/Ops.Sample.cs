using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: SampleTokens, one decode step's CFG mix and token sampling on the logits' device (IKernels.Sample.cs).
// Not differentiable; it writes its outputs in place.
public static partial class Ops
{
    /// <summary>
    /// Samples one token per image from (2B, V) logits [conditional ; unconditional] and advances the decode state in
    /// place (formula and uniforms in <see cref="IKernels.SampleTokens"/>): tokens and positions (2B) are written,
    /// steps (2B) advanced by one, history[b, steps[b]] (B, T) set. Every tensor must be contiguous and on the logits'
    /// device; on a GPU nothing is read back to the host.
    /// </summary>
    /// <param name="logits">(2B, V) float32.</param>
    /// <param name="steps">(2B) int64, read and advanced.</param>
    /// <param name="tokens">(2B) int64, written.</param>
    /// <param name="positions">(2B) int64, written.</param>
    /// <param name="history">(B, T) int64, one element per image written.</param>
    /// <param name="settings">Sampling settings.</param>
    public static void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings)
    {
        SameDevice(nameof(SampleTokens), logits, steps, tokens, positions, history);
        K(logits).SampleTokens(logits, steps, tokens, positions, history, settings);
    }
}

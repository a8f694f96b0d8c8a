using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the adaLN row modulation of a training block (AiM spec §2.4, DiT's modulate(x, shift, scale) and its
// gate): output = x · scale + shift with per-image rows (B, D) broadcast over the L positions of (B, L, D)
// activations, forward and backward. It replaces Add(Mul(x, scale), shift) and Mul(gate, y) with their broadcast
// backward (two products and a SumTo over L per row operand); the forward rounds like that composition.
// Row-broadcast rule: element (b, l, d) of x meets element (b, d) of scale and shift; row b of the modulation
// serves all L positions of image b.
public partial interface IKernels
{
    /// <summary>
    /// output[b, l, d] = x[b, l, d] · scale[b, d] (+ shift[b, d] when given). The product is rounded to the dtype,
    /// then the shift is added and rounded again (no fused multiply-add): bit-identical to Mul then Add. Float
    /// dtypes; all operands contiguous and of one dtype (<see cref="ModulateChecks.Forward"/>).
    /// </summary>
    /// <param name="x">(B, L, D).</param>
    /// <param name="scale">(B, D): per-image factor (1 + the adaLN scale, or the gate).</param>
    /// <param name="shift">(B, D) or null (no shift: a gate).</param>
    /// <param name="output">(B, L, D).</param>
    void Modulate(Tensor x, Tensor scale, Tensor? shift, Tensor output);

    /// <summary>
    /// Backward of <see cref="Modulate"/>: dX = dOutput · scale (per element); dScale[b, d] = Σ_l dOutput[b, l, d] ·
    /// x[b, l, d]; dShift[b, d] = Σ_l dOutput[b, l, d]. The sums over l run in an order fixed by the shapes (and, on
    /// CUDA, the multiprocessor count): deterministic. Each output is optional (null: not computed); all written, not
    /// accumulated.
    /// </summary>
    /// <param name="x">(B, L, D): the forward's x (read only when dScale is wanted).</param>
    /// <param name="scale">(B, D).</param>
    /// <param name="dOutput">(B, L, D).</param>
    /// <param name="dX">(B, L, D) or null.</param>
    /// <param name="dScale">(B, D) or null.</param>
    /// <param name="dShift">(B, D) or null.</param>
    void ModulateBackward(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift);
}

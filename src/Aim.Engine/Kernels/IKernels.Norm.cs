using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the normalisation kernels (RMSNorm, fused residual-add + RMSNorm and its gated, modulated decode
// form, Mamba-2 gated RMSNorm, LayerNorm, GroupNorm), forward and backward (the decode form has none).
// Formulas: RMSNorm y = x / sqrt(mean(x^2) + eps) * w (Zhang & Sennrich 2019; mamba_ssm layer_norm_fn with
// is_rms_norm, spec §4); gated RMSNorm with norm_before_gate=False: norm(x * silu(z)) * w per group of
// channels (mamba_ssm layernorm_gated.RMSNorm, spec §4); LayerNorm and GroupNorm with biased variance (PyTorch).
// Every kernel treats its input as rows: a (..., D) tensor is Count / D rows of D contiguous values.
public partial interface IKernels
{
    /// <summary>
    /// RMSNorm over the last dimension: output = x / sqrt(mean(x²) + eps) * weight.
    /// </summary>
    /// <param name="x">(..., D), contiguous.</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square.</param>
    /// <param name="output">(..., D), x's shape.</param>
    void RmsNorm(Tensor x, Tensor weight, double eps, Tensor output);

    /// <summary>
    /// Backward of <see cref="RmsNorm"/> (recomputes the row statistics from x). Writes dX and dWeight
    /// (dWeight = Σ_rows dOutput · x̂, summed in a fixed order).
    /// </summary>
    /// <param name="x">(..., D).</param>
    /// <param name="weight">(D).</param>
    /// <param name="dOutput">(..., D).</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="dX">(..., D).</param>
    /// <param name="dWeight">(D).</param>
    void RmsNormBackward(Tensor x, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight);

    /// <summary>
    /// Fused residual add + RMSNorm in one pass: residualOut = hidden (+ residual when given), computed and
    /// stored in the tensors' dtype; normed = RmsNorm(residualOut) * weight.
    /// </summary>
    /// <param name="hidden">(..., D).</param>
    /// <param name="residual">(..., D) or null (then residualOut = hidden).</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square.</param>
    /// <param name="normed">(..., D).</param>
    /// <param name="residualOut">(..., D).</param>
    void AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps, Tensor normed, Tensor residualOut);

    /// <summary>
    /// Backward of <see cref="AddRmsNorm"/>: dSum = RmsNorm's dX at residualOut plus dResidualOut (when given);
    /// it is the gradient of both hidden and residual. Writes dSum and dWeight.
    /// </summary>
    /// <param name="residualOut">(..., D): the forward's sum r.</param>
    /// <param name="weight">(D).</param>
    /// <param name="dNormed">(..., D).</param>
    /// <param name="dResidualOut">(..., D) or null (no gradient reached r directly).</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="dSum">(..., D).</param>
    /// <param name="dWeight">(D).</param>
    void AddRmsNormBackward(Tensor residualOut, Tensor weight, Tensor dNormed, Tensor? dResidualOut, double eps, Tensor dSum, Tensor dWeight);

    /// <summary>
    /// The decode step's gated residual add + RMSNorm + adaLN modulation in one pass (no backward). Per row:
    /// residualOut = (residual, or 0 when null) + (gate is null ? hidden : gate · hidden);
    /// normed = residualOut / sqrt(mean(residualOut²) + eps) · weight · scalePlusOne + shift.
    /// Rounds like the composition it replaces, AddRmsNorm(Mul(gate, hidden), residual) then
    /// Add(Mul(normed, scalePlusOne), shift): gate · hidden, the sum, the normalised value, the product and the
    /// final sum are each rounded to the dtype. residualOut may be the same memory as residual (in place: every
    /// implementation reads an element of the inputs before it writes that element of residualOut); no other
    /// operands may overlap (<see cref="NormChecks.Modulated"/> checks it). Every operand is contiguous and of one
    /// float dtype; the CUDA kernel is float32 only (NotSupportedException naming the op otherwise), the reference
    /// also takes float64.
    /// </summary>
    /// <param name="hidden">(..., D), contiguous.</param>
    /// <param name="gate">(..., D) or null (no gate: hidden is added as is).</param>
    /// <param name="residual">(..., D) or null (then residualOut = gate · hidden).</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to the mean square.</param>
    /// <param name="scalePlusOne">(..., D): 1 + the adaLN scale, per row.</param>
    /// <param name="shift">(..., D): the adaLN shift, per row.</param>
    /// <param name="normed">(..., D).</param>
    /// <param name="residualOut">(..., D); may be residual itself.</param>
    void ModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor scalePlusOne, Tensor shift,
        Tensor normed, Tensor residualOut);

    /// <summary>
    /// Mamba-2 gated RMSNorm (norm_before_gate = False): g = x · silu(z); each group of
    /// <paramref name="groupSize"/> consecutive channels of a row is normalised by its own
    /// 1/sqrt(mean(g²) + eps); output = that · weight.
    /// </summary>
    /// <remarks>
    /// Strides: x and z may be row views (<see cref="NormChecks.RowStride"/>): unit stride in the last dimension and
    /// leading dimensions that collapse into rows a fixed number of elements (at least D) apart, each with its own row
    /// stride; the z of a Mamba-2 layer is such a view, a Narrow of in_proj's output. The other tensors are contiguous.
    /// </remarks>
    /// <param name="x">(..., D); a row view or contiguous.</param>
    /// <param name="z">(..., D), the gate; a row view or contiguous.</param>
    /// <param name="weight">(D).</param>
    /// <param name="eps">Added to each group's mean square.</param>
    /// <param name="groupSize">Channels per group; D % groupSize == 0.</param>
    /// <param name="output">(..., D).</param>
    void GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize, Tensor output);

    /// <summary>Backward of <see cref="GatedRmsNorm"/>. Writes dX, dZ and dWeight.</summary>
    /// <remarks>x and z may be row views as in the forward, and so may dZ (the tape's gradient slot for a z that is a column
    /// block of in_proj's output: Tape.GradientSlot); dOutput, dX and dWeight are contiguous.</remarks>
    /// <param name="x">(..., D); a row view or contiguous.</param>
    /// <param name="z">(..., D); a row view or contiguous.</param>
    /// <param name="weight">(D).</param>
    /// <param name="dOutput">(..., D).</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="groupSize">As in the forward.</param>
    /// <param name="dX">(..., D).</param>
    /// <param name="dZ">(..., D); a row view or contiguous.</param>
    /// <param name="dWeight">(D).</param>
    void GatedRmsNormBackward(Tensor x, Tensor z, Tensor weight, Tensor dOutput, double eps, int groupSize, Tensor dX, Tensor dZ, Tensor dWeight);

    /// <summary>
    /// LayerNorm over the last dimension: output = (x - mean) / sqrt(var + eps) (· weight) (+ bias), biased variance.
    /// </summary>
    /// <param name="x">(..., D).</param>
    /// <param name="weight">(D) or null (no scale).</param>
    /// <param name="bias">(D) or null (no shift).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="output">(..., D).</param>
    void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor output);

    /// <summary>Backward of <see cref="LayerNorm"/>. Writes dX, and dWeight / dBias when given.</summary>
    /// <param name="x">(..., D).</param>
    /// <param name="weight">(D) or null.</param>
    /// <param name="dOutput">(..., D).</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="dX">(..., D).</param>
    /// <param name="dWeight">(D) or null (not wanted, or no weight).</param>
    /// <param name="dBias">(D) or null (not wanted, or no bias).</param>
    void LayerNormBackward(Tensor x, Tensor? weight, Tensor dOutput, double eps, Tensor dX, Tensor? dWeight, Tensor? dBias);

    /// <summary>
    /// GroupNorm (PyTorch semantics, biased variance): the C channels are split into
    /// <paramref name="groups"/> groups of C/groups consecutive channels; each (sample, group) is normalised
    /// over its channels and all spatial positions, then output = x̂ · weight[c] + bias[c].
    /// </summary>
    /// <param name="x">(N, C, *spatial), contiguous.</param>
    /// <param name="groups">Number of groups; C % groups == 0.</param>
    /// <param name="weight">(C).</param>
    /// <param name="bias">(C).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="output">x's shape.</param>
    void GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor output);

    /// <summary>Backward of <see cref="GroupNorm"/>. Writes dX, dWeight and dBias.</summary>
    /// <param name="x">(N, C, *spatial).</param>
    /// <param name="groups">As in the forward.</param>
    /// <param name="weight">(C).</param>
    /// <param name="dOutput">x's shape.</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="dX">x's shape.</param>
    /// <param name="dWeight">(C).</param>
    /// <param name="dBias">(C).</param>
    void GroupNormBackward(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight, Tensor dBias);
}

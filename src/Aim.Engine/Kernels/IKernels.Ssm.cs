using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the Mamba-2 sequence kernels: causal depthwise conv1d (sequence, backward, single step) and the
// SSD selective scan (sequence, backward, single step).
// Formulas: aim-architecture.md §3.4 (conv, recurrence), §3.5 (chunked SSD), §3.6 (step and caches).
public partial interface IKernels
{
    /// <summary>
    /// Causal depthwise conv1d over time, channel-last:
    /// output[b,t,c] = act(bias[c] + Σ_{k=0..K-1} weight[c,k] · x[b, t-(K-1)+k, c]), x at negative time = 0,
    /// act = SiLU when <paramref name="silu"/> (PyTorch Conv1d, groups = C, padding K-1, first L outputs kept).
    /// </summary>
    /// <param name="x">(B, L, C); may be a strided view whose channel stride is 1.</param>
    /// <param name="weight">(C, K), contiguous.</param>
    /// <param name="bias">(C), contiguous, or null.</param>
    /// <param name="silu">Apply SiLU after the bias.</param>
    /// <param name="output">(B, L, C).</param>
    void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output);

    /// <summary>
    /// Backward of <see cref="CausalConv1d"/> (the pre-activation is recomputed from x). Writes dX, dWeight
    /// and (when not null) dBias.
    /// </summary>
    /// <param name="x">(B, L, C); may be a strided view whose channel stride is 1.</param>
    /// <param name="weight">(C, K).</param>
    /// <param name="bias">(C) or null.</param>
    /// <param name="silu">Whether the forward applied SiLU.</param>
    /// <param name="dOutput">(B, L, C), contiguous.</param>
    /// <param name="dX">(B, L, C); may be a strided view whose channel stride is 1 (the tape's gradient slot for an x that is a
    /// column block of in_proj's output: Tape.GradientSlot).</param>
    /// <param name="dWeight">(C, K).</param>
    /// <param name="dBias">(C) or null (not computed).</param>
    void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias);

    /// <summary>
    /// One inference step of <see cref="CausalConv1d"/>. <paramref name="convState"/> is updated in place: every
    /// channel's K slots shift left by one and x goes into the last slot; then
    /// output[b,c] = act(bias[c] + Σ_k convState[b,c,k] · weight[c,k]).
    /// </summary>
    /// <param name="convState">(B, C, K), contiguous, oldest input first; read and written.</param>
    /// <param name="x">(B, C); may be a strided view whose channel stride is 1.</param>
    /// <param name="weight">(C, K).</param>
    /// <param name="bias">(C) or null.</param>
    /// <param name="silu">Apply SiLU after the bias.</param>
    /// <param name="output">(B, C).</param>
    void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output);

    /// <summary>
    /// The SSD selective scan (Mamba-2). Per batch b and head h (group g = h / (H/G)):
    /// state_t = exp(dt_t·a_h)·state_{t-1} + dt_t·x_t ⊗ b_t (a P×N outer product), state_{-1} = initialState or 0,
    /// y_t = state_t·c_t + d_h·x_t. finalState = state after the last step.
    /// </summary>
    /// <param name="x">(B, L, H, P); may be a strided view whose last stride is 1.</param>
    /// <param name="dt">(B, L, H), contiguous, positive step sizes (softplus already applied).</param>
    /// <param name="a">(H), negative decay rates.</param>
    /// <param name="b">(B, L, G, N); may be a strided view whose last stride is 1. H % G == 0.</param>
    /// <param name="c">(B, L, G, N); may be a strided view whose last stride is 1.</param>
    /// <param name="d">(H) skip weights, or null (no skip).</param>
    /// <param name="initialState">(B, H, P, N), contiguous, or null (zeros).</param>
    /// <param name="chunkSize">Chunk length of the chunked SSD form (&gt; 0). It does not change the result, only how it is computed.</param>
    /// <param name="y">(B, L, H, P).</param>
    /// <param name="finalState">(B, H, P, N).</param>
    /// <param name="chunkStates">
    /// (B, H, nc, P, N), nc = ⌈L / chunkSize⌉, contiguous, x's dtype, or null (not written): S_in[c], the state
    /// entering chunk c (steps c·chunkSize .. (c+1)·chunkSize - 1), i.e. state_{c·chunkSize - 1}, with S_in[0] the
    /// initial state (or 0). A forward recorded for training hands them to <see cref="SsdScanBackward"/>, which may then
    /// skip recomputing them (see <see cref="SsdScanStatesChunk"/>).
    /// </param>
    void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState, Tensor? chunkStates);

    /// <summary>
    /// The chunk length at which <see cref="SsdScanBackward"/> reads the chunk states it is given (the forward's
    /// <c>chunkStates</c> output made at that chunk size), or 0 when this backend's backward never reads them. A
    /// forward recorded for training asks for the states at this chunk size only when it is positive, so backends whose
    /// backward recomputes everything cost no memory for them.
    /// </summary>
    int SsdScanStatesChunk { get; }

    /// <summary>
    /// Backward of <see cref="SsdScan"/>: given dY (and optionally dFinalState), writes the gradients to x, dt, a,
    /// b, c and, when those outputs are not null, to d and initialState. Inputs are as in <see cref="SsdScan"/>.
    /// </summary>
    /// <param name="x">(B, L, H, P); may be a strided view whose last stride is 1.</param>
    /// <param name="dt">(B, L, H).</param>
    /// <param name="a">(H).</param>
    /// <param name="b">(B, L, G, N); may be a strided view whose last stride is 1.</param>
    /// <param name="c">(B, L, G, N); may be a strided view whose last stride is 1.</param>
    /// <param name="d">(H) or null.</param>
    /// <param name="initialState">(B, H, P, N) or null.</param>
    /// <param name="dY">(B, L, H, P), contiguous.</param>
    /// <param name="dFinalState">(B, H, P, N), contiguous, or null (no gradient reaches the final state).</param>
    /// <param name="chunkStates">
    /// (B, H, ⌈L / statesChunk⌉, P, N), contiguous, or null: the <c>chunkStates</c> output of the forward
    /// <see cref="SsdScan"/> on the same inputs at chunk size <paramref name="statesChunk"/>. Read only; a backend may
    /// use it to skip recomputing the states (CUDA does when statesChunk is its <see cref="SsdScanStatesChunk"/>) or
    /// ignore it. The gradients must not depend on whether it is given, up to float rounding.
    /// </param>
    /// <param name="statesChunk">The chunk size <paramref name="chunkStates"/> was made at (ignored when it is null).</param>
    /// <param name="dX">(B, L, H, P); may be a view with unit last stride (the tape's gradient slot: Tape.GradientSlot).</param>
    /// <param name="dDt">(B, L, H).</param>
    /// <param name="dA">(H).</param>
    /// <param name="dB">(B, L, G, N); may be a view with unit last stride, as dX.</param>
    /// <param name="dC">(B, L, G, N); may be a view with unit last stride, as dX.</param>
    /// <param name="dD">(H), or null (not computed).</param>
    /// <param name="dInitialState">(B, H, P, N), or null (not computed).</param>
    void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor? chunkStates, int statesChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState);

    /// <summary>
    /// One inference step of the scan: state ← exp(dt·a_h)·state + (b·dt) ⊗ x per head, then
    /// y = state·c + d_h·x. <paramref name="state"/> is updated in place. With <paramref name="dtBias"/> the step
    /// size is softplus(dt + dtBias_h) (softplus passing values above 20 through), computed inside the kernel as
    /// mamba's selective_state_update does with dt_softplus, so the decode step needs no separate bias and softplus.
    /// </summary>
    /// <param name="state">(B, H, P, N), contiguous; read and written.</param>
    /// <param name="x">(B, H, P); may be a strided view whose last stride is 1.</param>
    /// <param name="dt">(B, H); may be a strided view whose last stride is 1. Raw when dtBias is given.</param>
    /// <param name="a">(H).</param>
    /// <param name="b">(B, G, N); may be a strided view whose last stride is 1.</param>
    /// <param name="c">(B, G, N); may be a strided view whose last stride is 1.</param>
    /// <param name="d">(H) or null.</param>
    /// <param name="y">(B, H, P).</param>
    /// <param name="dtBias">(H), or null when dt already holds the step sizes.</param>
    void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y, Tensor? dtBias);
}

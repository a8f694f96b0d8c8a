using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: the Mamba-2 sequence ops: CausalConv1d (differentiable), CausalConv1dStep and FillConvState
// (inference caches), SsdScan (differentiable, two outputs) and SsmStep (inference).
// Formulas: aim-architecture.md §3.4 (conv, recurrence), §3.5 (chunked SSD), §3.6 (single step and caches).
public static partial class Ops
{
    /// <summary>
    /// Causal depthwise conv1d, channel-last: y[b,t,c] = act(bias[c] + Σ_k weight[c,k]·x[b, t-(K-1)+k, c]) with x
    /// at negative time = 0; act = SiLU when <paramref name="silu"/>. Differentiable in x, weight and bias.
    /// </summary>
    /// <param name="x">(B, L, C); a strided view (e.g. a Narrow of a projection) is fine.</param>
    /// <param name="weight">(C, K); tap K-1 multiplies the current step.</param>
    /// <param name="bias">(C) or null.</param>
    /// <param name="silu">Apply SiLU.</param>
    /// <returns>(B, L, C).</returns>
    public static Tensor CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu)
    {
        const string op = nameof(CausalConv1d);
        SameDeviceOptional(op, x, weight, bias);
        using var xk = UnitStrideNoGrad(x);
        using var wk = ContiguousNoGrad(weight);
        using var bk = bias is null ? null : ContiguousNoGrad(bias);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).CausalConv1d(xk, wk, bk, silu, y);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record(op, y, inputs, g =>
            {
                using var gk = ContiguousNoGrad(g);
                using var xs = UnitStrideNoGrad(x);
                using var ws = ContiguousNoGrad(weight);
                using var bs = bias is null ? null : ContiguousNoGrad(bias);
                // dx straight into its place in in_proj's gradient when x is a slice of it (every backend writes such views).
                var dx = Tape.GradientSlot(x) ?? Tensor.Empty(x.Shape, g.DType, g.Device);
                var dw = Tensor.Empty(weight.Shape, g.DType, g.Device);
                var db = bias is null || !bias.RequiresGrad ? null : Tensor.Empty(bias.Shape, g.DType, g.Device);
                K(g).CausalConv1dBackward(xs, ws, bs, silu, gk, dx, dw, db);
                return bias is null ? [dx, dw] : [dx, dw, db];
            });
        }
        return y;
    }

    /// <summary>
    /// One inference step of <see cref="CausalConv1d"/> (no gradient): shifts <paramref name="convState"/> left by one
    /// in place, puts x in its last slot, and returns act(bias + Σ_k convState[:,:,k]·weight[:,k]).
    /// </summary>
    /// <param name="convState">(B, C, K), contiguous, oldest input first; updated in place.</param>
    /// <param name="x">(B, C), the new pre-conv input.</param>
    /// <param name="weight">(C, K).</param>
    /// <param name="bias">(C) or null.</param>
    /// <param name="silu">Apply SiLU.</param>
    /// <returns>(B, C).</returns>
    public static Tensor CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu)
    {
        const string op = nameof(CausalConv1dStep);
        SameDeviceOptional(op, convState, x, weight, bias);
        using var noGrad = Tape.NoGrad();
        using var xk = UnitStrideNoGrad(x);
        using var wk = ContiguousNoGrad(weight);
        using var bk = bias is null ? null : ContiguousNoGrad(bias);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).CausalConv1dStep(convState, xk, wk, bk, silu, y);
        return y;
    }

    /// <summary>
    /// Fills a conv cache from a prefix of pre-conv inputs (no gradient): convState[b,c,:] = the last K inputs
    /// x[b, L-K.., c], oldest first, zero-padded on the left when L &lt; K (mamba's conv_state after a prefill).
    /// </summary>
    /// <param name="convState">(B, C, K), contiguous; overwritten.</param>
    /// <param name="xPrefix">(B, L, C), any layout.</param>
    public static void FillConvState(Tensor convState, Tensor xPrefix)
    {
        const string op = nameof(FillConvState);
        SameDevice(op, convState, xPrefix);
        if (convState.Rank != 3 || xPrefix.Rank != 3 || convState.Shape[0] != xPrefix.Shape[0] || convState.Shape[1] != xPrefix.Shape[2])
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} (B, C, K) does not match xPrefix {Tensor.ShapeString(xPrefix.Shape)} (B, L, C)");
        if (!convState.IsContiguous)
            throw new ArgumentException($"{op}: convState {Tensor.ShapeString(convState.Shape)} must be contiguous");
        using var noGrad = Tape.NoGrad();
        int k = convState.Shape[2], l = xPrefix.Shape[1], n = Math.Min(k, l);
        K(convState).Fill(0, convState);
        if (n == 0) return;
        using var src = Narrow(xPrefix, 1, l - n, n);   // (B, n, C)
        using var srcT = Permute(src, 0, 2, 1);          // (B, C, n)
        using var dst = Narrow(convState, 2, k - n, n);  // (B, C, n)
        K(convState).Copy(srcT, dst);
    }

    /// <summary>
    /// The SSD selective scan of Mamba-2. Per batch b and head h (group h / (H/G)):
    /// state_t = exp(dt_t·a_h)·state_{t-1} + dt_t·x_t ⊗ b_t, y_t = state_t·c_t + d_h·x_t, state_{-1} = initialState or 0.
    /// Differentiable in every input and through both outputs.
    /// </summary>
    /// <param name="x">(B, L, H, P); a strided view is fine.</param>
    /// <param name="dt">(B, L, H), positive (softplus(dt + dt_bias) already applied).</param>
    /// <param name="a">(H), negative (A = -exp(A_log)).</param>
    /// <param name="b">(B, L, G, N), H % G == 0.</param>
    /// <param name="c">(B, L, G, N).</param>
    /// <param name="d">(H) skip weights or null.</param>
    /// <param name="chunkSize">
    /// Chunk length of the chunked SSD algorithm (does not change the result). When the call is recorded for autograd
    /// and the backend's backward reads saved chunk states (<see cref="IKernels.SsdScanStatesChunk"/> &gt; 0), the
    /// forward runs at that chunk length instead and keeps its chunk states (B, H, ⌈L / chunk⌉, P, N) for the backward,
    /// which then skips recomputing them: the states must be at the backward's chunk boundaries, and the chunk length
    /// changes only the rounding.
    /// </param>
    /// <param name="initialState">(B, H, P, N) or null (zeros).</param>
    /// <returns>Y (B, L, H, P) and FinalState (B, H, P, N), the state after the last step.</returns>
    public static (Tensor Y, Tensor FinalState) SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, int chunkSize, Tensor? initialState)
    {
        const string op = nameof(SsdScan);
        SameDeviceOptional(op, x, dt, a, b, c, d, initialState);
        if (x.Rank != 4 || b.Rank != 4)
            throw new ArgumentException($"{op}: x {Tensor.ShapeString(x.Shape)} must be (B, L, H, P) and b {Tensor.ShapeString(b.Shape)} (B, L, G, N)");
        if (chunkSize < 1) throw new ArgumentException($"{op}: chunkSize must be positive, got {chunkSize}");
        var inputs = new List<Tensor> { x, dt, a, b, c };
        if (d is not null) inputs.Add(d);
        if (initialState is not null) inputs.Add(initialState);
        Tensor[] ins = [.. inputs];
        bool record = Tape.ShouldRecord(ins);
        // Recorded: the chunk states for the backward, at the chunk length it reads them at (only when it does).
        int statesChunk = record && x.Shape[1] > 0 ? K(x).SsdScanStatesChunk : 0;
        int runChunk = statesChunk > 0 ? statesChunk : chunkSize;
        Tensor? chunkStates = statesChunk > 0
            ? Tensor.Empty([x.Shape[0], x.Shape[2], SsmChecks.ChunkCount(x.Shape[1], statesChunk), x.Shape[3], b.Shape[3]], x.DType, x.Device)
            : null;
        Tensor xk, dtk, ak, bk, ck;
        Tensor? dk, ik;
        using (Tape.NoGrad())
        {
            xk = UnitStrideNoGrad(x);
            dtk = Contiguous(dt);
            ak = Contiguous(a);
            bk = UnitStrideNoGrad(b);
            ck = UnitStrideNoGrad(c);
            dk = d is null ? null : Contiguous(d);
            ik = initialState is null ? null : Contiguous(initialState);
        }
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        var finalState = Tensor.Empty([x.Shape[0], x.Shape[2], x.Shape[3], b.Shape[3]], x.DType, x.Device);
        try
        {
            K(x).SsdScan(xk, dtk, ak, bk, ck, dk, ik, runChunk, y, finalState, chunkStates);
        }
        catch
        {
            y.Dispose();
            finalState.Dispose();
            chunkStates?.Dispose();
            throw;
        }
        finally
        {
            xk.Dispose();
            dtk.Dispose();
            ak.Dispose();
            bk.Dispose();
            ck.Dispose();
            dk?.Dispose();
            ik?.Dispose();
        }
        if (record)
        {
            if (chunkStates is null)
                Tape.Record(op, [y, finalState], ins, g => SsdScanBackward(x, dt, a, b, c, d, initialState, null, 0, g[0], g[1]));
            else
            {
                // The tape holds the states until it lets go of the entry.
                Tape.Record(op, [y, finalState], ins, [chunkStates], g => SsdScanBackward(x, dt, a, b, c, d, initialState, chunkStates, statesChunk, g[0], g[1]));
                chunkStates.Dispose();
            }
        }
        return (y, finalState);
    }

    /// <summary>
    /// Gradients of <see cref="SsdScan"/> in the order of its recorded inputs (x, dt, a, b, c, [d], [initialState]);
    /// chunkStates (B, H, nc, P, N) are the forward's at chunk length statesChunk, or null.
    /// </summary>
    private static Tensor?[] SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor? chunkStates, int statesChunk, Tensor? dY, Tensor? dFinal)
    {
        using var xk = UnitStrideNoGrad(x);
        using var dtk = ContiguousNoGrad(dt);
        using var ak = ContiguousNoGrad(a);
        using var bk = UnitStrideNoGrad(b);
        using var ck = UnitStrideNoGrad(c);
        using var dk = d is null ? null : ContiguousNoGrad(d);
        using var ik = initialState is null ? null : ContiguousNoGrad(initialState);
        using var gy = dY is null ? Tensor.Zeros(x.Shape, x.DType, x.Device) : ContiguousNoGrad(dY);
        using var gf = dFinal is null ? null : ContiguousNoGrad(dFinal);
        // x, b and c straight into their places in the conv output's gradient when they are (reshaped) slices of it.
        var dx = Tape.GradientSlot(x) ?? Tensor.Empty(x.Shape, x.DType, x.Device);
        var ddt = Tensor.Empty(dt.Shape, x.DType, x.Device);
        var da = Tensor.Empty(a.Shape, x.DType, x.Device);
        var db = Tape.GradientSlot(b) ?? Tensor.Empty(b.Shape, x.DType, x.Device);
        var dc = Tape.GradientSlot(c) ?? Tensor.Empty(c.Shape, x.DType, x.Device);
        var dd = d is null || !d.RequiresGrad ? null : Tensor.Empty(d.Shape, x.DType, x.Device);
        var di = initialState is null || !initialState.RequiresGrad ? null : Tensor.Empty(initialState.Shape, x.DType, x.Device);
        K(x).SsdScanBackward(xk, dtk, ak, bk, ck, dk, ik, gy, gf, chunkStates, statesChunk, dx, ddt, da, db, dc, dd, di);
        var result = new List<Tensor?> { dx, ddt, da, db, dc };
        if (d is not null) result.Add(dd);
        if (initialState is not null) result.Add(di);
        return [.. result];
    }

    /// <summary>
    /// One inference step of the scan (no gradient): state ← exp(dt·a_h)·state + (b·dt) ⊗ x in place, and
    /// returns y = state·c + d_h·x. Equal to one step of <see cref="SsdScan"/>.
    /// </summary>
    /// <param name="state">(B, H, P, N), contiguous; updated in place.</param>
    /// <param name="x">(B, H, P).</param>
    /// <param name="dt">(B, H): step sizes, or the raw in_proj values when <paramref name="dtBias"/> is given.</param>
    /// <param name="a">(H).</param>
    /// <param name="b">(B, G, N).</param>
    /// <param name="c">(B, G, N).</param>
    /// <param name="d">(H) or null.</param>
    /// <param name="dtBias">(H), or null: when given the step size is softplus(dt + dtBias).</param>
    /// <returns>y (B, H, P).</returns>
    public static Tensor SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? dtBias = null)
    {
        const string op = nameof(SsmStep);
        SameDeviceOptional(op, state, x, dt, a, b, c, d, dtBias);
        using var noGrad = Tape.NoGrad();
        using var xk = UnitStrideNoGrad(x);
        using var dtk = UnitStrideNoGrad(dt);
        using var biask = dtBias is null ? null : Contiguous(dtBias);
        using var ak = Contiguous(a);
        using var bk = UnitStrideNoGrad(b);
        using var ck = UnitStrideNoGrad(c);
        using var dk = d is null ? null : Contiguous(d);
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        K(x).SsmStep(state, xk, dtk, ak, bk, ck, dk, y, biask);
        return y;
    }

    /// <summary>A view of x when its last dimension already has unit stride, else a contiguous copy (never recorded).</summary>
    private static Tensor UnitStrideNoGrad(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] == 1 || x.Strides[^1] == 1) return x.CreateViewSame();
        return ContiguousNoGrad(x);
    }

    private static void SameDeviceOptional(string op, params ReadOnlySpan<Tensor?> ts)
    {
        Tensor? first = null;
        foreach (var t in ts)
        {
            if (t is null) continue;
            first ??= t;
            if (t.Device != first.Device)
                throw new ArgumentException($"{op}: tensors on {first.Device} and {t.Device}");
        }
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: CausalConv1d, CausalConv1dBackward, CausalConv1dStep, SsdScan, SsdScanBackward, SsmStep (reference).
// Every kernel reads its inputs (any layout, f32 or f64) into double arrays, runs the plain definition in double
// and writes the result in the output's dtype. Formulas: aim-architecture.md §3.4 (conv and recurrence) and §3.6
// (step); the scan is always the plain time recurrence, whatever the chunk size (its optional chunk states are
// the recurrence's state before each chunk's first step). The backward of the scan keeps
// every state S_t (small test sizes only) and walks time in reverse with G_t = dL/dS_t:
//   G_t = exp(dt_{t+1} a) G_{t+1} + dY_t c_tᵀ (+ dFinalState at t = L-1),
//   dx_t = d dY_t + dt_t G_t b_t,  db_t = dt_t G_tᵀ x_t,  dc_t = S_tᵀ dY_t,
//   dα_t = ⟨G_t, S_{t-1}⟩ with α_t = exp(dt_t a):  ddt_t = ⟨G_t, x_t b_tᵀ⟩ + dα_t α_t a,  da += dα_t α_t dt_t,
//   dInitialState = α_0 G_0.
public partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        const string op = nameof(CausalConv1d);
        var s = SsmChecks.Conv(op, x, weight, bias);
        CheckOutput(op, "output", output, x, s.B, s.L, s.C);
        double[] xs = Load(x), w = Load(weight);
        double[]? bs = bias is null ? null : Load(bias);
        var y = new double[xs.Length];
        for (int b = 0; b < s.B; b++)
            for (int t = 0; t < s.L; t++)
                for (int c = 0; c < s.C; c++)
                {
                    double z = ConvPreActivation(xs, w, bs, s, b, t, c);
                    y[((long)b * s.L + t) * s.C + c] = silu ? Silu(z) : z;
                }
        Store(y, output);
    }

    /// <inheritdoc />
    public virtual void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias)
    {
        const string op = nameof(CausalConv1dBackward);
        var s = SsmChecks.Conv(op, x, weight, bias);
        CheckOutput(op, "dOutput", dOutput, x, s.B, s.L, s.C);
        SsmChecks.OutputView(op, "dX", dX, x, s.B, s.L, s.C);
        CheckOutput(op, "dWeight", dWeight, x, s.C, s.K);
        if (dBias is not null) CheckOutput(op, "dBias", dBias, x, s.C);
        double[] xs = Load(x), w = Load(weight), g = Load(dOutput);
        double[]? bs = bias is null ? null : Load(bias);
        // dz = dY * act'(z), then z = bias + Σ_k w[c,k] x[t-K+1+k] spreads dz back to x, w and bias.
        var dz = new double[xs.Length];
        for (int b = 0; b < s.B; b++)
            for (int t = 0; t < s.L; t++)
                for (int c = 0; c < s.C; c++)
                {
                    long i = ((long)b * s.L + t) * s.C + c;
                    dz[i] = silu ? g[i] * SiluDerivative(ConvPreActivation(xs, w, bs, s, b, t, c)) : g[i];
                }
        var dx = new double[xs.Length];
        var dw = new double[w.Length];
        var db = new double[s.C];
        for (int b = 0; b < s.B; b++)
            for (int t = 0; t < s.L; t++)
                for (int c = 0; c < s.C; c++)
                {
                    double gz = dz[((long)b * s.L + t) * s.C + c];
                    db[c] += gz;
                    for (int k = 0; k < s.K; k++)
                    {
                        int src = t - (s.K - 1) + k;
                        if (src < 0) continue;
                        long xi = ((long)b * s.L + src) * s.C + c;
                        dx[xi] += w[c * s.K + k] * gz;
                        dw[c * s.K + k] += xs[xi] * gz;
                    }
                }
        Store(dx, dX);
        Store(dw, dWeight);
        if (dBias is not null) Store(db, dBias);
    }

    /// <inheritdoc />
    public virtual void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        const string op = nameof(CausalConv1dStep);
        KernelChecks.Rank(op, "convState", convState, 3);
        int bsz = convState.Shape[0], ch = convState.Shape[1], k = convState.Shape[2];
        KernelChecks.Shape(op, "x", x, bsz, ch);
        KernelChecks.Shape(op, "weight", weight, ch, k);
        if (bias is not null) KernelChecks.Shape(op, "bias", bias, ch);
        KernelChecks.Contiguous(op, "convState", convState);
        SsmChecks.UnitLastStride(op, "x", x);
        SsmChecks.Floats(op, convState, x, weight, bias);
        CheckOutput(op, "output", output, x, bsz, ch);
        double[] st = Load(convState), xs = Load(x), w = Load(weight);
        double[]? bs = bias is null ? null : Load(bias);
        var y = new double[bsz * ch];
        for (int b = 0; b < bsz; b++)
            for (int c = 0; c < ch; c++)
            {
                long row = ((long)b * ch + c) * k;
                for (int j = 0; j < k - 1; j++) st[row + j] = st[row + j + 1];
                st[row + k - 1] = xs[b * ch + c];
                double z = bs?[c] ?? 0;
                for (int j = 0; j < k; j++) z += st[row + j] * w[c * k + j];
                y[b * ch + c] = silu ? Silu(z) : z;
            }
        Store(st, convState);
        Store(y, output);
    }

    /// <inheritdoc />
    public virtual void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState, Tensor? chunkStates)
    {
        const string op = nameof(SsdScan);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        if (chunkSize < 1) throw new ArgumentException($"{op}: chunkSize must be positive, got {chunkSize}");
        CheckOutput(op, "y", y, x, s.B, s.L, s.H, s.P);
        CheckOutput(op, "finalState", finalState, x, s.B, s.H, s.P, s.N);
        if (chunkStates is not null) SsmChecks.ChunkStates(op, s, x, chunkStates, chunkSize);
        var v = ScanInputs.Read(x, dt, a, b, c, d, initialState);
        int pn = s.P * s.N, nc = SsmChecks.ChunkCount(s.L, chunkSize);
        var ys = new double[(long)s.B * s.L * s.H * s.P];
        var fs = new double[(long)s.B * s.H * pn];
        var cst = chunkStates is null ? null : new double[(long)s.B * s.H * nc * pn];
        var state = new double[pn];
        for (int bi = 0; bi < s.B; bi++)
            for (int h = 0; h < s.H; h++)
            {
                long bh = (long)bi * s.H + h;
                v.InitialState(s, bi, h, state);
                for (int t = 0; t < s.L; t++)
                {
                    // S_in[c] is the state before the chunk's first step.
                    if (cst is not null && t % chunkSize == 0) Array.Copy(state, 0, cst, (bh * nc + t / chunkSize) * pn, pn);
                    StepState(v, s, bi, t, h, state, ys);
                }
                Array.Copy(state, 0, fs, bh * pn, pn);
            }
        Store(ys, y);
        Store(fs, finalState);
        if (cst is not null) Store(cst, chunkStates!);
    }

    /// <inheritdoc />
    public virtual int SsdScanStatesChunk => 0;

    /// <inheritdoc />
    public virtual void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor? chunkStates, int statesChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState)
    {
        const string op = nameof(SsdScanBackward);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        CheckOutput(op, "dY", dY, x, s.B, s.L, s.H, s.P);
        if (dFinalState is not null) CheckOutput(op, "dFinalState", dFinalState, x, s.B, s.H, s.P, s.N);
        // The saved chunk states are checked but not read: the reference rebuilds every S_t itself.
        if (chunkStates is not null) SsmChecks.ChunkStates(op, s, x, chunkStates, statesChunk);
        SsmChecks.OutputView(op, "dX", dX, x, s.B, s.L, s.H, s.P);
        CheckOutput(op, "dDt", dDt, x, s.B, s.L, s.H);
        CheckOutput(op, "dA", dA, x, s.H);
        SsmChecks.OutputView(op, "dB", dB, x, s.B, s.L, s.G, s.N);
        SsmChecks.OutputView(op, "dC", dC, x, s.B, s.L, s.G, s.N);
        if (dD is not null) CheckOutput(op, "dD", dD, x, s.H);
        if (dInitialState is not null) CheckOutput(op, "dInitialState", dInitialState, x, s.B, s.H, s.P, s.N);
        var v = ScanInputs.Read(x, dt, a, b, c, d, initialState);
        double[] gy = Load(dY);
        double[]? gf = dFinalState is null ? null : Load(dFinalState);
        int pn = s.P * s.N, hpg = s.HeadsPerGroup;
        var dx = new double[gy.Length];
        var ddt = new double[v.Dt.Length];
        var da = new double[s.H];
        var db = new double[v.B.Length];
        var dc = new double[v.C.Length];
        var dd = new double[s.H];
        var dinit = new double[(long)s.B * s.H * pn];
        var states = new double[(s.L + 1) * pn];   // states[(t+1)·PN ..] = S_t, states[0 ..] = S_{-1}
        var scratchY = new double[gy.Length];
        var g = new double[pn];
        for (int bi = 0; bi < s.B; bi++)
            for (int h = 0; h < s.H; h++)
            {
                int grp = h / hpg;
                var state = new double[pn];
                v.InitialState(s, bi, h, state);
                Array.Copy(state, 0, states, 0, pn);
                for (int t = 0; t < s.L; t++)
                {
                    StepState(v, s, bi, t, h, state, scratchY);
                    Array.Copy(state, 0, states, (t + 1) * pn, pn);
                }
                if (gf is null) Array.Clear(g);
                else Array.Copy(gf, ((long)bi * s.H + h) * pn, g, 0, pn);
                double ah = v.A[h], dh = v.D?[h] ?? 0;
                for (int t = s.L - 1; t >= 0; t--)
                {
                    long xo = (((long)bi * s.L + t) * s.H + h) * s.P;
                    long bo = (((long)bi * s.L + t) * s.G + grp) * s.N;
                    long to = ((long)bi * s.L + t) * s.H + h;
                    double dtv = v.Dt[to], alpha = Math.Exp(dtv * ah);
                    int cur = (t + 1) * pn, prev = t * pn;
                    // G_t = (already decayed G_{t+1}) + dY_t c_tᵀ
                    for (int p = 0; p < s.P; p++)
                        for (int n = 0; n < s.N; n++)
                            g[p * s.N + n] += gy[xo + p] * v.C[bo + n];
                    double dAlpha = 0, dU = 0;
                    for (int p = 0; p < s.P; p++)
                    {
                        double gb = 0;
                        for (int n = 0; n < s.N; n++)
                        {
                            double gpn = g[p * s.N + n];
                            gb += gpn * v.B[bo + n];
                            dc[bo + n] += states[cur + p * s.N + n] * gy[xo + p];
                            db[bo + n] += dtv * gpn * v.X[xo + p];
                            dAlpha += gpn * states[prev + p * s.N + n];
                            dU += gpn * v.X[xo + p] * v.B[bo + n];
                        }
                        dx[xo + p] = dh * gy[xo + p] + dtv * gb;
                        dd[h] += gy[xo + p] * v.X[xo + p];
                    }
                    ddt[to] = dU + dAlpha * alpha * ah;
                    da[h] += dAlpha * alpha * dtv;
                    for (int i = 0; i < pn; i++) g[i] *= alpha;
                }
                Array.Copy(g, 0, dinit, ((long)bi * s.H + h) * pn, pn);
            }
        Store(dx, dX);
        Store(ddt, dDt);
        Store(da, dA);
        Store(db, dB);
        Store(dc, dC);
        if (dD is not null) Store(dd, dD);
        if (dInitialState is not null) Store(dinit, dInitialState);
    }

    /// <inheritdoc />
    public virtual void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y, Tensor? dtBias)
    {
        const string op = nameof(SsmStep);
        var s = SsmChecks.Step(op, state, x, dt, a, b, c, d, dtBias);
        CheckOutput(op, "y", y, x, s.B, s.H, s.P);
        // A single step is the scan with L = 1 starting from the given state.
        var v = ScanInputs.Read(x, dt, a, b, c, d, state);
        if (dtBias is not null)
        {
            var bias = Load(dtBias);
            for (int i = 0; i < v.Dt.Length; i++) v.Dt[i] = UnaryScalar(UnaryOp.Softplus, v.Dt[i] + bias[i % s.H]);
        }
        var ys = new double[(long)s.B * s.H * s.P];
        var fs = new double[(long)s.B * s.H * s.P * s.N];
        var st = new double[s.P * s.N];
        for (int bi = 0; bi < s.B; bi++)
            for (int h = 0; h < s.H; h++)
            {
                v.InitialState(s, bi, h, st);
                StepState(v, s, bi, 0, h, st, ys);
                Array.Copy(st, 0, fs, ((long)bi * s.H + h) * st.Length, st.Length);
            }
        Store(ys, y);
        Store(fs, state);
    }

    // ---- helpers

    /// <summary>One recurrence step for (batch, time, head): state ← α·state + (b·dt) ⊗ x, y = state·c + d·x.</summary>
    private static void StepState(ScanInputs v, SsmChecks.ScanDims s, int bi, int t, int h, double[] state, double[] ys)
    {
        int grp = h / s.HeadsPerGroup;
        long xo = (((long)bi * s.L + t) * s.H + h) * s.P;
        long bo = (((long)bi * s.L + t) * s.G + grp) * s.N;
        double dtv = v.Dt[((long)bi * s.L + t) * s.H + h];
        double alpha = Math.Exp(dtv * v.A[h]), dh = v.D?[h] ?? 0;
        for (int p = 0; p < s.P; p++)
        {
            double acc = 0;
            for (int n = 0; n < s.N; n++)
            {
                int i = p * s.N + n;
                state[i] = alpha * state[i] + v.B[bo + n] * dtv * v.X[xo + p];
                acc += state[i] * v.C[bo + n];
            }
            ys[xo + p] = acc + dh * v.X[xo + p];
        }
    }

    /// <summary>The scan inputs as row-major double arrays (x with L = 1 for a step: same indexing).</summary>
    private sealed record ScanInputs(double[] X, double[] Dt, double[] A, double[] B, double[] C, double[]? D, double[]? Init)
    {
        public static ScanInputs Read(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? init)
            => new(Load(x), Load(dt), Load(a), Load(b), Load(c), d is null ? null : Load(d), init is null ? null : Load(init));

        public void InitialState(SsmChecks.ScanDims s, int bi, int h, double[] state)
        {
            if (Init is null) Array.Clear(state);
            else Array.Copy(Init, ((long)bi * s.H + h) * state.Length, state, 0, state.Length);
        }
    }

    private static double ConvPreActivation(double[] xs, double[] w, double[]? bias, SsmChecks.ConvDims s, int b, int t, int c)
    {
        double z = bias?[c] ?? 0;
        for (int k = 0; k < s.K; k++)
        {
            int src = t - (s.K - 1) + k;
            if (src >= 0) z += w[c * s.K + k] * xs[((long)b * s.L + src) * s.C + c];
        }
        return z;
    }

    private static double Silu(double z) => z / (1 + Math.Exp(-z));

    private static double SiluDerivative(double z)
    {
        double sg = 1 / (1 + Math.Exp(-z));
        return sg * (1 + z * (1 - sg));
    }

    /// <summary>Checks an output (or contiguous gradient input): shape, contiguity, same dtype as <paramref name="like"/>.</summary>
    private static void CheckOutput(string op, string name, Tensor t, Tensor like, params ReadOnlySpan<int> shape)
    {
        KernelChecks.Shape(op, name, t, shape);
        KernelChecks.Contiguous(op, name, t);
        KernelChecks.SameDType(op, like, t);
    }

    /// <summary>All elements of a float tensor (any layout) in row-major order, as doubles.</summary>
    private static unsafe double[] Load(Tensor t)
    {
        var r = new double[t.Count];
        byte* p = (byte*)t.DataPointer;
        for (long i = 0; i < r.LongLength; i++) r[i] = Read(p, t.DType, StridedIndex.Offset(t, i));
        return r;
    }

    /// <summary>Writes doubles into a contiguous float tensor, rounding to its dtype.</summary>
    /// <summary>Writes row-major values into a float tensor of any layout.</summary>
    private static unsafe void Store(double[] values, Tensor output)
    {
        byte* p = (byte*)output.DataPointer;
        for (long i = 0; i < values.LongLength; i++) Write(p, output.DType, StridedIndex.Offset(output, i), values[i]);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: CausalConv1d, CausalConv1dBackward, CausalConv1dStep, SsdScan, SsdScanBackward, SsmStep for Float32
// (SIMD over channels / the state dimension N, threads over rows, channel blocks or (batch, head) pairs).
// Formulas: aim-architecture.md §3.4–3.6; same definitions as ReferenceKernels.Ssm.cs. The scan is the time
// recurrence, vectorised over N with the state kept in the (B, H, P, N) output. It was measured against a chunked
// SSD forward (§3.5: C·Bᵀ masked by the segment-sum decay, then inter-chunk state passing, register-blocked
// AVX-512) at L=256, H=24, P=64, N=128, G=1, one thread: recurrence 19 ms per batch element, chunked 37 ms
// (chunk 256) and 27 ms (chunk 64), so the recurrence is kept and chunkSize does not change the CPU path (it only
// sets where the optional chunk states are copied out). Its backward runs the
// recurrence forward once (for dC and the ⟨dY_t, S_t c_t⟩ terms) and then backward in time for G_t = dL/dS_t,
// without storing the states: the decay gradient uses q_t = ⟨G_t, S_t⟩, obtained in reverse from
//   q_{L-1} = ⟨dFinal, S_{L-1}⟩ + dY_{L-1}·(S_{L-1} c_{L-1}),
//   m_t = q_t − dt_t Σ_p x_t[p] (G_t b_t)[p]  (= ⟨G_t, α_t S_{t-1}⟩),  q_{t-1} = m_t + dY_{t-1}·(S_{t-1} c_{t-1}),
// so that ddt_t = Σ_p x_t[p] (G_t b_t)[p] + a·m_t and da = Σ_t dt_t m_t.
public unsafe partial class CpuKernels
{
    // ------------------------------------------------------------------ conv

    /// <inheritdoc />
    public override void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        if (x.DType != DType.Float32 || !output.IsContiguous || !output.Shape.SequenceEqual(x.Shape) || output.DType != DType.Float32)
        {
            base.CausalConv1d(x, weight, bias, silu, output);
            return;
        }
        var s = SsmChecks.Conv(nameof(CausalConv1d), x, weight, bias);
        float* px = (float*)x.DataPointer, py = (float*)output.DataPointer;
        float* pb = bias is null ? null : (float*)bias.DataPointer;
        long sxb = x.Strides[0], sxl = x.Strides[1];
        float[] wt = TransposeTaps((float*)weight.DataPointer, s.C, s.K);
        CpuParallel.For((long)s.B * s.L, Math.Max(1, 8192 / Math.Max(1, s.C * s.K)), (r0, r1) =>
        {
            fixed (float* pw = wt)
            {
                for (long r = r0; r < r1; r++)
                {
                    int b = (int)(r / s.L), t = (int)(r % s.L);
                    float* yrow = py + r * s.C;
                    ConvRow(px + b * sxb, sxl, pw, pb, s, t, yrow);
                    if (silu) SiluInPlace(yrow, s.C);
                }
            }
        });
    }

    /// <inheritdoc />
    public override void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias)
    {
        bool fast = x.DType == DType.Float32 && dOutput.DType == DType.Float32 && dOutput.IsContiguous && dOutput.Shape.SequenceEqual(x.Shape)
            && dX.DType == DType.Float32 && dX.Shape.SequenceEqual(x.Shape) && (dX.Shape[^1] == 1 || dX.Strides[^1] == 1)
            && dWeight.DType == DType.Float32 && dWeight.IsContiguous && dWeight.Shape.SequenceEqual(weight.Shape)
            && (dBias is null || (dBias.DType == DType.Float32 && dBias.IsContiguous && dBias.Shape.SequenceEqual([x.Shape[^1]])));
        if (!fast)
        {
            base.CausalConv1dBackward(x, weight, bias, silu, dOutput, dX, dWeight, dBias);
            return;
        }
        var s = SsmChecks.Conv(nameof(CausalConv1dBackward), x, weight, bias);
        float* px = (float*)x.DataPointer, pg = (float*)dOutput.DataPointer, pdx = (float*)dX.DataPointer;
        float* pb = bias is null ? null : (float*)bias.DataPointer, pw = (float*)weight.DataPointer;
        float* pdw = (float*)dWeight.DataPointer, pdb = dBias is null ? null : (float*)dBias.DataPointer;
        long sxb = x.Strides[0], sxl = x.Strides[1], sdb = dX.Strides[0], sdl = dX.Strides[1];
        long rows = (long)s.B * s.L;
        float[] wt = TransposeTaps(pw, s.C, s.K);
        // dz = dY·act'(z): with SiLU, recompute z row by row; without, dz is dY itself.
        float[]? dzBuffer = silu ? new float[rows * s.C] : null;
        if (silu)
        {
            CpuParallel.For(rows, Math.Max(1, 8192 / Math.Max(1, s.C * s.K)), (r0, r1) =>
            {
                fixed (float* pwt = wt)
                fixed (float* pdz = dzBuffer)
                {
                    for (long r = r0; r < r1; r++)
                    {
                        int b = (int)(r / s.L), t = (int)(r % s.L);
                        float* zrow = pdz + r * s.C;
                        ConvRow(px + b * sxb, sxl, pwt, pb, s, t, zrow);
                        float* grow = pg + r * s.C;
                        for (int c = 0; c < s.C; c++)
                        {
                            float z = zrow[c], sg = 1f / (1f + MathF.Exp(-z));
                            zrow[c] = grow[c] * sg * (1f + z * (1f - sg));
                        }
                    }
                }
            });
        }
        // Channel blocks: each owns dx, dWeight and dBias of its channels, summing over batch and time.
        const int block = 32;
        int blocks = (s.C + block - 1) / block;
        CpuParallel.For(blocks, 1, (k0, k1) =>
        {
            fixed (float* pdzFixed = dzBuffer)
            {
                float* pdz = silu ? pdzFixed : pg;
                var accW = stackalloc float[block * s.K];
                var accB = stackalloc float[block];
                for (long blk = k0; blk < k1; blk++)
                {
                    int c0 = (int)blk * block, width = Math.Min(block, s.C - c0);
                    new Span<float>(accW, block * s.K).Clear();
                    new Span<float>(accB, block).Clear();
                    for (int b = 0; b < s.B; b++)
                    {
                        float* xb = px + b * sxb + c0;
                        float* dzb = pdz + (long)b * s.L * s.C + c0;
                        float* dxb = pdx + b * sdb + c0;
                        for (int t = 0; t < s.L; t++)
                        {
                            float* dzt = dzb + (long)t * s.C;
                            float* dxt = dxb + t * sdl;
                            for (int j = 0; j < width; j++) accB[j] += dzt[j];
                            for (int j = 0; j < width; j++) dxt[j] = 0;
                            // Output t uses inputs t-(K-1)+k; input t feeds outputs t+(K-1)-k.
                            for (int k = 0; k < s.K; k++)
                            {
                                int src = t - (s.K - 1) + k;
                                if (src >= 0) Fma(accW + k * block, dzt, xb + src * sxl, width);
                                int dst = t + (s.K - 1) - k;
                                if (dst < s.L) FmaRowWeights(dxt, dzb + (long)dst * s.C, pw, c0, k, s.K, width);
                            }
                        }
                    }
                    for (int j = 0; j < width; j++)
                    {
                        for (int k = 0; k < s.K; k++) pdw[(long)(c0 + j) * s.K + k] = accW[k * block + j];
                        if (pdb != null) pdb[c0 + j] = accB[j];
                    }
                }
            }
        });
    }

    /// <inheritdoc />
    public override void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        if (convState.DType != DType.Float32 || convState.Rank != 3 || output.DType != DType.Float32 || !output.IsContiguous
            || !output.Shape.SequenceEqual(x.Shape))
        {
            base.CausalConv1dStep(convState, x, weight, bias, silu, output);
            return;
        }
        const string op = nameof(CausalConv1dStep);
        int bsz = convState.Shape[0], ch = convState.Shape[1], k = convState.Shape[2];
        KernelChecks.Shape(op, "x", x, bsz, ch);
        KernelChecks.Shape(op, "weight", weight, ch, k);
        if (bias is not null) KernelChecks.Shape(op, "bias", bias, ch);
        KernelChecks.Contiguous(op, "convState", convState);
        KernelChecks.Contiguous(op, "weight", weight);
        if (bias is not null) KernelChecks.Contiguous(op, "bias", bias);
        SsmChecks.UnitLastStride(op, "x", x);
        SsmChecks.Floats(op, convState, x, weight, bias);
        float* ps = (float*)convState.DataPointer, px = (float*)x.DataPointer, pw = (float*)weight.DataPointer, py = (float*)output.DataPointer;
        float* pb = bias is null ? null : (float*)bias.DataPointer;
        long sxb = x.Strides[0];
        // Rows of (batch, channel) are independent: threads over them; with the usual K = 4 a channel's taps are one
        // Vector128, so the shift-in and the dot product are a shuffle and a multiply plus horizontal sum.
        CpuParallel.For((long)bsz * ch, 8192, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                long b = i / ch;
                int c = (int)(i - b * ch);
                float* row = ps + i * k;
                float xin = px[b * sxb + c];
                float z = pb == null ? 0f : pb[c];
                if (k == 4)
                {
                    var shifted = Vector128.Shuffle(Vector128.Load(row), Vector128.Create(1, 2, 3, 3)).WithElement(3, xin);
                    shifted.Store(row);
                    z += Vector128.Sum(shifted * Vector128.Load(pw + (long)c * 4));
                }
                else
                {
                    for (int j = 0; j < k - 1; j++) row[j] = row[j + 1];
                    row[k - 1] = xin;
                    for (int j = 0; j < k; j++) z += row[j] * pw[(long)c * k + j];
                }
                py[i] = z;
            }
        });
        // The activation in one vectorised pass (a scalar exp per channel dominated the step).
        if (silu) Unary(UnaryOp.Silu, output, output);
    }

    /// <summary>Weight (C, K) as (K, C), so a tap is a contiguous vector over channels.</summary>
    private static float[] TransposeTaps(float* w, int c, int k)
    {
        var wt = new float[(long)k * c];
        for (int ci = 0; ci < c; ci++)
            for (int ki = 0; ki < k; ki++)
                wt[(long)ki * c + ci] = w[(long)ci * k + ki];
        return wt;
    }

    /// <summary>Pre-activation row t: out[c] = bias[c] + Σ_k wt[k,c]·x[t-(K-1)+k, c] (xb: batch base, sxl: time stride).</summary>
    private static void ConvRow(float* xb, long sxl, float* wt, float* bias, SsmChecks.ConvDims s, int t, float* output)
    {
        if (bias != null) Buffer.MemoryCopy(bias, output, s.C * 4L, s.C * 4L);
        else new Span<float>(output, s.C).Clear();
        for (int k = 0; k < s.K; k++)
        {
            int src = t - (s.K - 1) + k;
            if (src >= 0) Fma(output, wt + (long)k * s.C, xb + src * sxl, s.C);
        }
    }

    /// <summary>acc[i] += a[i]·b[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fma(float* acc, float* a, float* b, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), Vector512.Load(acc + i)), acc + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), Vector256.Load(acc + i)), acc + i);
        for (; i < n; i++) acc[i] = MathF.FusedMultiplyAdd(a[i], b[i], acc[i]);
    }

    /// <summary>dx[j] += w[c0+j, k]·dz[j] for j &lt; width (weights read with stride K).</summary>
    private static void FmaRowWeights(float* dx, float* dz, float* w, int c0, int k, int kTaps, int width)
    {
        for (int j = 0; j < width; j++) dx[j] = MathF.FusedMultiplyAdd(w[(long)(c0 + j) * kTaps + k], dz[j], dx[j]);
    }

    /// <summary>v[i] = silu(v[i]).</summary>
    private static void SiluInPlace(float* v, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                var z = Vector512.Load(v + i);
                Vector512.Store(z / (Vector512<float>.One + Vector512.Exp(-z)), v + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var z = Vector256.Load(v + i);
                Vector256.Store(z / (Vector256<float>.One + Vector256.Exp(-z)), v + i);
            }
        }
        for (; i < n; i++) v[i] /= 1f + MathF.Exp(-v[i]);
    }

    // ------------------------------------------------------------------ scan

    /// <summary>Raw pointers and strides of the scan operands.</summary>
    private readonly struct ScanPtrs
    {
        public readonly float* X, Dt, A, B, C, D, Init;
        public readonly long Sxb, Sxl, Sxh, Sbb, Sbl, Sbg, Scb, Scl, Scg;

        public ScanPtrs(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? init)
        {
            X = (float*)x.DataPointer;
            Dt = (float*)dt.DataPointer;
            A = (float*)a.DataPointer;
            B = (float*)b.DataPointer;
            C = (float*)c.DataPointer;
            D = d is null ? null : (float*)d.DataPointer;
            Init = init is null ? null : (float*)init.DataPointer;
            (Sxb, Sxl, Sxh) = (x.Strides[0], x.Strides[1], x.Strides[2]);
            (Sbb, Sbl, Sbg) = (b.Strides[0], b.Strides[1], b.Strides[2]);
            (Scb, Scl, Scg) = (c.Strides[0], c.Strides[1], c.Strides[2]);
        }
    }

    private static bool AllF32(params ReadOnlySpan<Tensor?> ts)
    {
        foreach (var t in ts)
            if (t is not null && t.DType != DType.Float32) return false;
        return true;
    }

    private static bool Dense(Tensor? t, params ReadOnlySpan<int> shape)
        => t is null || (t.DType == DType.Float32 && t.IsContiguous && t.Shape.SequenceEqual(shape));

    /// <inheritdoc />
    public override void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState, Tensor? chunkStates)
    {
        if (!AllF32(x, dt, a, b, c, d, initialState) || x.Rank != 4 || b.Rank != 4
            || !Dense(y, x.Shape) || !Dense(finalState, x.Shape[0], x.Shape[2], x.Shape[3], b.Shape[3])
            || (chunkStates is not null && (chunkStates.DType != DType.Float32 || !chunkStates.IsContiguous)))
        {
            base.SsdScan(x, dt, a, b, c, d, initialState, chunkSize, y, finalState, chunkStates);
            return;
        }
        var s = SsmChecks.Scan(nameof(SsdScan), x, dt, a, b, c, d, initialState);
        if (chunkSize < 1) throw new ArgumentException($"{nameof(SsdScan)}: chunkSize must be positive, got {chunkSize}");
        if (chunkStates is not null) SsmChecks.ChunkStates(nameof(SsdScan), s, x, chunkStates, chunkSize);
        var v = new ScanPtrs(x, dt, a, b, c, d, initialState);
        float* py = (float*)y.DataPointer, pf = (float*)finalState.DataPointer;
        float* pcs = chunkStates is null ? null : (float*)chunkStates.DataPointer;
        int pn = s.P * s.N, nc = SsmChecks.ChunkCount(s.L, chunkSize);
        CpuParallel.For((long)s.B * s.H, 1, (i0, i1) =>
        {
            var bdt = stackalloc float[s.N];
            for (long i = i0; i < i1; i++)
            {
                int bi = (int)(i / s.H), h = (int)(i % s.H), grp = h / s.HeadsPerGroup;
                float* state = pf + i * pn;
                if (v.Init != null) Buffer.MemoryCopy(v.Init + i * pn, state, pn * 4L, pn * 4L);
                else new Span<float>(state, pn).Clear();
                float ah = v.A[h], dh = v.D == null ? 0f : v.D[h];
                for (int t = 0; t < s.L; t++)
                {
                    // S_in[c]: the state before the chunk's first step.
                    if (pcs != null && t % chunkSize == 0)
                        Buffer.MemoryCopy(state, pcs + (i * nc + t / chunkSize) * pn, pn * 4L, pn * 4L);
                    float dtv = v.Dt[((long)bi * s.L + t) * s.H + h];
                    float* xt = v.X + bi * v.Sxb + t * v.Sxl + h * v.Sxh;
                    float* bt = v.B + bi * v.Sbb + t * v.Sbl + grp * v.Sbg;
                    float* ct = v.C + bi * v.Scb + t * v.Scl + grp * v.Scg;
                    float* yt = py + (((long)bi * s.L + t) * s.H + h) * s.P;
                    StepHead(state, xt, bt, ct, dtv, MathF.Exp(dtv * ah), dh, s.P, s.N, bdt, yt);
                }
            }
        });
    }

    /// <summary>
    /// One recurrence step of one head: state[p,:] ← α·state[p,:] + x[p]·(b·dt), y[p] = state[p,:]·c + d·x[p].
    /// <paramref name="bdt"/> is scratch of length N.
    /// </summary>
    private static void StepHead(float* state, float* x, float* b, float* c, float dt, float alpha, float d, int p, int n, float* bdt, float* y)
    {
        for (int j = 0; j < n; j++) bdt[j] = b[j] * dt;
        for (int pi = 0; pi < p; pi++)
        {
            float xp = x[pi];
            float* row = state + (long)pi * n;
            int j = 0;
            float acc = 0;
            if (Vector512.IsHardwareAccelerated && n >= 16)
            {
                var va = Vector512.Create(alpha);
                var vx = Vector512.Create(xp);
                var sum = Vector512<float>.Zero;
                for (; j <= n - 16; j += 16)
                {
                    var st = Vector512.FusedMultiplyAdd(vx, Vector512.Load(bdt + j), va * Vector512.Load(row + j));
                    Vector512.Store(st, row + j);
                    sum = Vector512.FusedMultiplyAdd(st, Vector512.Load(c + j), sum);
                }
                acc = Vector512.Sum(sum);
            }
            if (Vector256.IsHardwareAccelerated && n - j >= 8)
            {
                var va = Vector256.Create(alpha);
                var vx = Vector256.Create(xp);
                var sum = Vector256<float>.Zero;
                for (; j <= n - 8; j += 8)
                {
                    var st = Vector256.FusedMultiplyAdd(vx, Vector256.Load(bdt + j), va * Vector256.Load(row + j));
                    Vector256.Store(st, row + j);
                    sum = Vector256.FusedMultiplyAdd(st, Vector256.Load(c + j), sum);
                }
                acc += Vector256.Sum(sum);
            }
            for (; j < n; j++)
            {
                float st = MathF.FusedMultiplyAdd(xp, bdt[j], alpha * row[j]);
                row[j] = st;
                acc = MathF.FusedMultiplyAdd(st, c[j], acc);
            }
            y[pi] = MathF.FusedMultiplyAdd(d, xp, acc);
        }
    }

    /// <inheritdoc />
    public override void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y, Tensor? dtBias)
    {
        if (!AllF32(state, x, dt, a, b, c, d, dtBias) || !Dense(y, x.Shape))
        {
            base.SsmStep(state, x, dt, a, b, c, d, y, dtBias);
            return;
        }
        var s = SsmChecks.Step(nameof(SsmStep), state, x, dt, a, b, c, d, dtBias);
        float* ps = (float*)state.DataPointer, px = (float*)x.DataPointer, pdt = (float*)dt.DataPointer, pa = (float*)a.DataPointer;
        float* pbias = dtBias is null ? null : (float*)dtBias.DataPointer;
        long sdt = dt.Strides[0];
        float* pb = (float*)b.DataPointer, pc = (float*)c.DataPointer, pd = d is null ? null : (float*)d.DataPointer, py = (float*)y.DataPointer;
        long sxb = x.Strides[0], sxh = x.Strides[1], sbb = b.Strides[0], sbg = b.Strides[1], scb = c.Strides[0], scg = c.Strides[1];
        int pn = s.P * s.N;
        CpuParallel.For((long)s.B * s.H, Math.Max(1, 16384 / Math.Max(1, pn)), (i0, i1) =>
        {
            var bdt = stackalloc float[s.N];
            for (long i = i0; i < i1; i++)
            {
                int bi = (int)(i / s.H), h = (int)(i % s.H), grp = h / s.HeadsPerGroup;
                float dtv = pdt[bi * sdt + h];
                if (pbias != null) dtv = Aim.Engine.Kernels.Reference.ReferenceKernels.UnaryScalar(UnaryOp.Softplus, dtv + pbias[h]);
                StepHead(ps + i * pn, px + bi * sxb + h * sxh, pb + bi * sbb + grp * sbg, pc + bi * scb + grp * scg,
                    dtv, MathF.Exp(dtv * pa[h]), pd == null ? 0f : pd[h], s.P, s.N, bdt, py + i * s.P);
            }
        });
    }

    /// <inheritdoc />
    public override void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor? chunkStates, int statesChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState)
    {
        bool fast = AllF32(x, dt, a, b, c, d, initialState) && x.Rank == 4 && b.Rank == 4
            && Dense(dY, x.Shape) && Dense(dFinalState, x.Shape[0], x.Shape[2], x.Shape[3], b.Shape[3])
            && Dense(dDt, dt.Shape) && Dense(dA, a.Shape) && Dense(dD, x.Shape[2]) && Dense(dInitialState, x.Shape[0], x.Shape[2], x.Shape[3], b.Shape[3]);
        if (!fast)
        {
            base.SsdScanBackward(x, dt, a, b, c, d, initialState, dY, dFinalState, chunkStates, statesChunk, dX, dDt, dA, dB, dC, dD, dInitialState);
            return;
        }
        if (!Dense(dX, x.Shape) || !Dense(dB, b.Shape) || !Dense(dC, c.Shape))
        {
            // Views (the tape's gradient slots): this kernel writes dense rows, so through buffers.
            SsmChecks.OutputView(nameof(SsdScanBackward), "dX", dX, x, x.Shape);
            SsmChecks.OutputView(nameof(SsdScanBackward), "dB", dB, x, b.Shape);
            SsmChecks.OutputView(nameof(SsdScanBackward), "dC", dC, x, c.Shape);
            using var denseX = Tensor.Empty(dX.Shape, DType.Float32);
            using var denseB = Tensor.Empty(dB.Shape, DType.Float32);
            using var denseC = Tensor.Empty(dC.Shape, DType.Float32);
            SsdScanBackward(x, dt, a, b, c, d, initialState, dY, dFinalState, chunkStates, statesChunk, denseX, dDt, dA, denseB, denseC, dD, dInitialState);
            Copy(denseX, dX);
            Copy(denseB, dB);
            Copy(denseC, dC);
            return;
        }
        var s = SsmChecks.Scan(nameof(SsdScanBackward), x, dt, a, b, c, d, initialState);
        // The saved chunk states are checked but not read: this backward reruns the recurrence (see the header).
        if (chunkStates is not null) SsmChecks.ChunkStates(nameof(SsdScanBackward), s, x, chunkStates, statesChunk);
        var v = new ScanPtrs(x, dt, a, b, c, d, initialState);
        float* pgy = (float*)dY.DataPointer, pgf = dFinalState is null ? null : (float*)dFinalState.DataPointer;
        float* pdx = (float*)dX.DataPointer, pddt = (float*)dDt.DataPointer;
        float* pdi = dInitialState is null ? null : (float*)dInitialState.DataPointer;
        int pn = s.P * s.N, hpg = s.HeadsPerGroup;
        // dB and dC per head (summed over the heads of a group afterwards, unless each group has one head).
        bool direct = hpg == 1;
        float[]? dbHeads = direct ? null : new float[(long)s.B * s.L * s.H * s.N];
        float[]? dcHeads = direct ? null : new float[(long)s.B * s.L * s.H * s.N];
        float* pdbOut = (float*)dB.DataPointer, pdcOut = (float*)dC.DataPointer;
        var daPart = new double[s.B * s.H];
        var ddPart = new double[s.B * s.H];
        CpuParallel.For((long)s.B * s.H, 1, (i0, i1) =>
        {
            var bdt = stackalloc float[s.N];
            var dbAcc = stackalloc float[s.N];
            var yTilde = stackalloc float[s.P];
            var state = new float[pn];
            var g = new float[pn];
            var qy = new double[s.L];
            fixed (float* pstate = state)
            fixed (float* pg = g)
            fixed (float* dbh = dbHeads)
            fixed (float* dch = dcHeads)
            {
                for (long i = i0; i < i1; i++)
                {
                    int bi = (int)(i / s.H), h = (int)(i % s.H), grp = h / hpg;
                    float ah = v.A[h], dh = v.D == null ? 0f : v.D[h];
                    // Where dB_t / dC_t of this head go: straight into the output, or into the per-head buffers.
                    float* dbBase = direct ? pdbOut + ((long)bi * s.L * s.G + grp) * s.N : dbh + ((long)bi * s.L * s.H + h) * s.N;
                    float* dcBase = direct ? pdcOut + ((long)bi * s.L * s.G + grp) * s.N : dch + ((long)bi * s.L * s.H + h) * s.N;
                    long rowStride = (direct ? s.G : s.H) * (long)s.N;

                    // Forward in time: S_t, dC_t = S_tᵀ dY_t and qy_t = dY_t·(S_t c_t).
                    if (v.Init != null) Buffer.MemoryCopy(v.Init + i * pn, pstate, pn * 4L, pn * 4L);
                    else Array.Clear(state);
                    for (int t = 0; t < s.L; t++)
                    {
                        float dtv = v.Dt[((long)bi * s.L + t) * s.H + h];
                        float* xt = v.X + bi * v.Sxb + t * v.Sxl + h * v.Sxh;
                        float* bt = v.B + bi * v.Sbb + t * v.Sbl + grp * v.Sbg;
                        float* ct = v.C + bi * v.Scb + t * v.Scl + grp * v.Scg;
                        float* gyt = pgy + (((long)bi * s.L + t) * s.H + h) * s.P;
                        StepHead(pstate, xt, bt, ct, dtv, MathF.Exp(dtv * ah), 0f, s.P, s.N, bdt, yTilde);
                        double q = 0;
                        for (int p = 0; p < s.P; p++) q += (double)gyt[p] * yTilde[p];
                        qy[t] = q;
                        float* dct = dcBase + t * rowStride;
                        new Span<float>(dct, s.N).Clear();
                        for (int p = 0; p < s.P; p++) Axpy(dct, pstate + (long)p * s.N, gyt[p], s.N);
                    }

                    // Backward in time with G_t = dL/dS_t.
                    double qRun = 0;
                    if (pgf != null)
                    {
                        Buffer.MemoryCopy(pgf + i * pn, pg, pn * 4L, pn * 4L);
                        for (int j = 0; j < pn; j++) qRun += (double)g[j] * state[j];
                    }
                    else Array.Clear(g);
                    float scale = 1f;
                    double daAcc = 0, ddAcc = 0;
                    for (int t = s.L - 1; t >= 0; t--)
                    {
                        long ti = ((long)bi * s.L + t) * s.H + h;
                        float dtv = v.Dt[ti], alpha = MathF.Exp(dtv * ah);
                        float* xt = v.X + bi * v.Sxb + t * v.Sxl + h * v.Sxh;
                        float* bt = v.B + bi * v.Sbb + t * v.Sbl + grp * v.Sbg;
                        float* ct = v.C + bi * v.Scb + t * v.Scl + grp * v.Scg;
                        float* gyt = pgy + ti * s.P;
                        float* dxt = pdx + ti * s.P;
                        qRun += qy[t];
                        new Span<float>(dbAcc, s.N).Clear();
                        double sumXGb = 0;
                        for (int p = 0; p < s.P; p++)
                        {
                            float gb = BackRow(pg + (long)p * s.N, scale, gyt[p], ct, bt, xt[p] * dtv, dbAcc, s.N);
                            dxt[p] = MathF.FusedMultiplyAdd(dh, gyt[p], dtv * gb);
                            sumXGb += (double)xt[p] * gb;
                            ddAcc += (double)gyt[p] * xt[p];
                        }
                        double m = qRun - dtv * sumXGb;
                        pddt[ti] = (float)(sumXGb + ah * m);
                        daAcc += dtv * m;
                        qRun = m;
                        scale = alpha;
                        Buffer.MemoryCopy(dbAcc, dbBase + t * rowStride, s.N * 4L, s.N * 4L);
                    }
                    if (pdi != null)
                    {
                        float* di = pdi + i * pn;
                        for (int j = 0; j < pn; j++) di[j] = g[j] * scale;
                    }
                    daPart[i] = daAcc;
                    ddPart[i] = ddAcc;
                }
            }
        });
        if (!direct)
        {
            // Sum the per-head dB, dC over the heads of each group.
            CpuParallel.For((long)s.B * s.L * s.G, Math.Max(1, 4096 / Math.Max(1, hpg * s.N)), (r0, r1) =>
            {
                fixed (float* dbh = dbHeads)
                fixed (float* dch = dcHeads)
                {
                    for (long r = r0; r < r1; r++)
                    {
                        long bl = r / s.G;
                        int grp = (int)(r % s.G);
                        float* dbo = pdbOut + r * s.N, dco = pdcOut + r * s.N;
                        new Span<float>(dbo, s.N).Clear();
                        new Span<float>(dco, s.N).Clear();
                        for (int k = 0; k < hpg; k++)
                        {
                            long src = (bl * s.H + grp * hpg + k) * s.N;
                            Axpy(dbo, dbh + src, 1f, s.N);
                            Axpy(dco, dch + src, 1f, s.N);
                        }
                    }
                }
            });
        }
        float* pda = (float*)dA.DataPointer;
        float* pdd = dD is null ? null : (float*)dD.DataPointer;
        for (int h = 0; h < s.H; h++)
        {
            double sa = 0, sd = 0;
            for (int bi = 0; bi < s.B; bi++)
            {
                sa += daPart[bi * s.H + h];
                sd += ddPart[bi * s.H + h];
            }
            pda[h] = (float)sa;
            if (pdd != null) pdd[h] = (float)sd;
        }
    }

    /// <summary>acc[i] += alpha·v[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float* acc, float* v, float alpha, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.FusedMultiplyAdd(va, Vector512.Load(v + i), Vector512.Load(acc + i)), acc + i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(v + i), Vector256.Load(acc + i)), acc + i);
        }
        for (; i < n; i++) acc[i] = MathF.FusedMultiplyAdd(alpha, v[i], acc[i]);
    }

    /// <summary>
    /// One row p of the reverse step: g ← scale·g + gy·c (G_t from α_{t+1}G_{t+1}), dbAcc += xdt·g, returns Σ_n g·b.
    /// </summary>
    private static float BackRow(float* g, float scale, float gy, float* c, float* b, float xdt, float* dbAcc, int n)
    {
        int j = 0;
        float acc = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vs = Vector512.Create(scale);
            var vgy = Vector512.Create(gy);
            var vx = Vector512.Create(xdt);
            var sum = Vector512<float>.Zero;
            for (; j <= n - 16; j += 16)
            {
                var gv = Vector512.FusedMultiplyAdd(vgy, Vector512.Load(c + j), vs * Vector512.Load(g + j));
                Vector512.Store(gv, g + j);
                sum = Vector512.FusedMultiplyAdd(gv, Vector512.Load(b + j), sum);
                Vector512.Store(Vector512.FusedMultiplyAdd(vx, gv, Vector512.Load(dbAcc + j)), dbAcc + j);
            }
            acc = Vector512.Sum(sum);
        }
        if (Vector256.IsHardwareAccelerated && n - j >= 8)
        {
            var vs = Vector256.Create(scale);
            var vgy = Vector256.Create(gy);
            var vx = Vector256.Create(xdt);
            var sum = Vector256<float>.Zero;
            for (; j <= n - 8; j += 8)
            {
                var gv = Vector256.FusedMultiplyAdd(vgy, Vector256.Load(c + j), vs * Vector256.Load(g + j));
                Vector256.Store(gv, g + j);
                sum = Vector256.FusedMultiplyAdd(gv, Vector256.Load(b + j), sum);
                Vector256.Store(Vector256.FusedMultiplyAdd(vx, gv, Vector256.Load(dbAcc + j)), dbAcc + j);
            }
            acc += Vector256.Sum(sum);
        }
        for (; j < n; j++)
        {
            float gv = MathF.FusedMultiplyAdd(gy, c[j], scale * g[j]);
            g[j] = gv;
            acc = MathF.FusedMultiplyAdd(gv, b[j], acc);
            dbAcc[j] = MathF.FusedMultiplyAdd(xdt, gv, dbAcc[j]);
        }
        return acc;
    }
}

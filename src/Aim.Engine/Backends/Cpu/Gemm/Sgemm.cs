// Packed, blocked, multi-threaded float32 GEMM: c = alpha * op(a) * op(b) + beta * c, row-major, batched.
// Loop structure after Goto & van de Geijn (ACM TOMS 34(3), 2008) and BLIS (Van Zee & van de Geijn,
// ACM TOMS 41(3), 2015): K blocks of at most KcMax, MC-row blocks of packed A; for each MR-row A micro-panel
// (kept in L1) the NR-column B micro-panels of the packed B block (kept in L2) stream past; micro-kernels over
// MR × NR tiles. Threads take whole output tiles (MT × NT of C
// in one batch); the K reduction is never split, and every element is computed by the same FMA chain
// whatever the tiling, so results are bitwise identical for any thread count.
// For few rows with B stored (N, K) (the decode shape x · Wᵀ) a dot-product path streams W once.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Aim.Engine.Backends.Cpu.Gemm;

/// <summary>Float32 GEMM on raw pointers (the CPU backend's <c>Gemm</c> kernel).</summary>
public static unsafe class Sgemm
{
    /// <summary>Largest K block (the packed A micro-panel MR × KcMax stays in L1; 384 measured best of 128/256/384/512).</summary>
    private const int KcMax = 384;

    /// <summary>Rows of op(A) packed at once.</summary>
    private const int McTarget = 192;

    /// <summary>Widest column tile one task takes.</summary>
    private const int NtMax = 1024;

    /// <summary>Row count up to which x · Wᵀ takes the dot-product path (settable for benchmarks).</summary>
    internal static int SkinnyMaxRows { get; set; } = 48;

    private static readonly int s_mr, s_nr;
    private static readonly delegate*<int, float*, float*, float*, void> s_kernel;

    [ThreadStatic] private static float* t_buffer;
    [ThreadStatic] private static long t_bufferFloats;

    static Sgemm()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            (s_mr, s_nr) = (12, 32);
            s_kernel = &MicroKernel.Kernel12x32;
        }
        else if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            (s_mr, s_nr) = (6, 16);
            s_kernel = &MicroKernel.Kernel6x16;
        }
        else
        {
            (s_mr, s_nr) = (4, 4);
            s_kernel = &MicroKernel.Kernel4x4;
        }
    }

    /// <summary>The micro-tile in use, e.g. "12x32 (Vector512)".</summary>
    public static string MicroTile => $"{s_mr}x{s_nr} ({(s_nr == 32 ? "Vector512" : s_nr == 16 ? "Vector256" : "scalar")})";

    /// <summary>
    /// c[bi] = alpha * op(a[bi]) * op(b[bi]) + beta * c[bi] for bi in [0, batch). With beta == 0, c is not read.
    /// </summary>
    /// <param name="a">(M, K) per batch, or (K, M) when <paramref name="transA"/>; batch stride <paramref name="strideA"/> (0 = shared).</param>
    /// <param name="b">(K, N) per batch, or (N, K) when <paramref name="transB"/>; batch stride <paramref name="strideB"/> (0 = shared).</param>
    /// <param name="c">(batch, M, N), contiguous.</param>
    public static void Run(float* a, float* b, float* c, int batch, int m, int n, int k, long strideA, long strideB,
        bool transA, bool transB, float alpha, float beta)
    {
        if (batch <= 0 || m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            ScaleC(c, (long)batch * m * n, beta);
            return;
        }
        if (transB && m <= SkinnyMaxRows && Vector512.IsHardwareAccelerated)
            SkinnyTransB(a, b, c, batch, m, n, k, strideA, strideB, transA, alpha, beta);
        else
            Blocked(a, b, c, batch, m, n, k, strideA, strideB, transA, transB, alpha, beta);
    }

    private static void ScaleC(float* c, long count, float beta)
    {
        for (long i = 0; i < count; i++) c[i] = beta == 0f ? 0f : beta * c[i];
    }

    private static int Ceil(int x, int y) => (x + y - 1) / y;

    private static float* ThreadBuffer(long floats)
    {
        if (t_bufferFloats < floats)
        {
            if (t_buffer != null) NativeMemory.AlignedFree(t_buffer);
            t_buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            t_bufferFloats = floats;
        }
        return t_buffer;
    }

    // ------------------------------------------------------------------ blocked (packed) path

    private static void Blocked(float* a, float* b, float* c, int batch, int m, int n, int k, long strideA, long strideB,
        bool transA, bool transB, float alpha, float beta)
    {
        int mr = s_mr, nr = s_nr;
        int kBlocks = Ceil(k, KcMax);
        int kc = Ceil(k, kBlocks);
        int mcMax = Math.Max(mr, McTarget / mr * mr);

        // Output tiles: wide column strips (B packed few times), split rows too when there are fewer tiles than threads.
        int threads = Math.Max(1, CpuParallel.MaxThreads);
        int tilesN = Math.Max(Ceil(n, NtMax), Math.Min(threads, Ceil(n, 4 * nr)));
        int nt = Ceil(Ceil(n, tilesN), nr) * nr;
        tilesN = Ceil(n, nt);
        int want = threads > 1 ? 2 * threads : 1;
        int tilesM = batch * tilesN >= want ? 1 : Math.Min(Ceil(want, batch * tilesN), Ceil(m, mr));
        int mt = Ceil(Ceil(m, tilesM), mr) * mr;
        tilesM = Ceil(m, mt);
        int tasks = batch * tilesM * tilesN;

        int lda = transA ? m : k, ldb = transB ? k : n;
        long packBFloats = (long)nt * kc, packAFloats = (long)mcMax * kc;
        var kernel = s_kernel;

        CpuParallel.For(tasks, 1, (start, end) =>
        {
            float* buffer = ThreadBuffer(packBFloats + packAFloats + (long)mr * nr);
            float* packB = buffer, packA = buffer + packBFloats, ab = packA + packAFloats;
            for (long t = start; t < end; t++)
            {
                int bi = (int)(t / (tilesM * tilesN));
                int rest = (int)(t % (tilesM * tilesN));
                int m0 = rest / tilesN * mt, n0 = rest % tilesN * nt;
                int m1 = Math.Min(m, m0 + mt), nc = Math.Min(n - n0, nt);
                float* aB = a + bi * strideA, bB = b + bi * strideB, cB = c + (long)bi * m * n;
                for (int pb = 0; pb < kBlocks; pb++)
                {
                    int p0 = pb * kc, pk = Math.Min(kc, k - p0);
                    float betaBlock = pb == 0 ? beta : 1f;
                    Packing.PackB(bB, ldb, transB, p0, pk, n0, nc, nr, packB);
                    for (int i0 = m0; i0 < m1; i0 += mcMax)
                    {
                        int mc = Math.Min(mcMax, m1 - i0);
                        Packing.PackA(aB, lda, transA, i0, mc, p0, pk, mr, packA);
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            for (int jr = 0; jr < nc; jr += nr)
                            {
                                kernel(pk, packA + (long)ir * pk, packB + (long)jr * pk, ab);
                                Update(cB + (long)(i0 + ir) * n + n0 + jr, n, ab, nr, rows, Math.Min(nr, nc - jr), alpha, betaBlock);
                            }
                        }
                    }
                }
            }
        });
    }

    /// <summary>c[r, j] = alpha * ab[r, j] + beta * c[r, j] over a rows × cols tile (c not read when beta == 0).</summary>
    /// <remarks>Vector and scalar parts round identically (multiply, multiply, add; no FMA contraction).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, int ldc, float* ab, int ldab, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + (long)r * ldc, abr = ab + (long)r * ldab;
            int j = 0;
            if (alpha == 1f && beta == 0f)
            {
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= cols; j += 16) Vector512.Store(Vector512.Load(abr + j), cr + j);
                for (; j < cols; j++) cr[j] = abr[j];
            }
            else if (alpha == 1f && beta == 1f)
            {
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= cols; j += 16) Vector512.Store(Vector512.Load(cr + j) + Vector512.Load(abr + j), cr + j);
                for (; j < cols; j++) cr[j] += abr[j];
            }
            else if (beta == 0f)
            {
                for (; j < cols; j++) cr[j] = alpha * abr[j];
            }
            else
            {
                for (; j < cols; j++) cr[j] = alpha * abr[j] + beta * cr[j];
            }
        }
    }

    // ------------------------------------------------------------------ skinny path: x (M ≤ 16, K) · W(N, K)ᵀ

    private static void SkinnyTransB(float* a, float* b, float* c, int batch, int m, int n, int k, long strideA, long strideB,
        bool transA, float alpha, float beta)
    {
        const int RowsPerTask = 64;
        int tilesN = Ceil(n, RowsPerTask);
        CpuParallel.For((long)batch * tilesN, 1, (start, end) =>
        {
            for (long t = start; t < end; t++)
            {
                int bi = (int)(t / tilesN);
                int n0 = (int)(t % tilesN) * RowsPerTask, n1 = Math.Min(n, n0 + RowsPerTask);
                float* x = a + bi * strideA;
                if (transA)
                {
                    // a is (K, M): gather the few rows once.
                    float* xt = ThreadBuffer((long)m * k);
                    for (int p = 0; p < k; p++)
                        for (int i = 0; i < m; i++) xt[(long)i * k + p] = x[(long)p * m + i];
                    x = xt;
                }
                SkinnyTile(x, b + bi * strideB, c + (long)bi * m * n, m, n, k, n0, n1, alpha, beta);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SkinnyTile(float* x, float* w, float* c, int m, int n, int k, int n0, int n1, float alpha, float beta)
    {
        float* r = stackalloc float[16];
        int j = n0;
        for (; j + 4 <= n1; j += 4)
        {
            float* w0 = w + (long)j * k;
            int i = 0;
            for (; i + 4 <= m; i += 4)
            {
                Dot4x4(x + (long)i * k, w0, k, r);
                for (int q = 0; q < 4; q++) Store4(c + (long)(i + q) * n + j, r + q * 4, alpha, beta);
            }
            for (; i + 2 <= m; i += 2)
            {
                Dot2x4(x + (long)i * k, w0, k, r);
                for (int q = 0; q < 2; q++) Store4(c + (long)(i + q) * n + j, r + q * 4, alpha, beta);
            }
            for (; i < m; i++)
            {
                Dot1x4(x + (long)i * k, w0, k, r);
                Store4(c + (long)i * n + j, r, alpha, beta);
            }
        }
        for (; j < n1; j++)
            for (int i = 0; i < m; i++)
                StoreOne(c + (long)i * n + j, Dot1x1(x + (long)i * k, w + (long)j * k, k), alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(float* c, float* r, float alpha, float beta)
    {
        for (int q = 0; q < 4; q++) StoreOne(c + q, r[q], alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(float* c, float v, float alpha, float beta)
        => *c = beta == 0f ? alpha * v : alpha * v + beta * *c;

    // Each dot: one Vector512 FMA chain per (x row, w row) over k in steps of 16, then Vector512.Sum, then plus the
    // scalar tail; identical arithmetic in every variant, so a value does not depend on which variant ran.

    private static float Tail(float* x, float* w, int from, int k)
    {
        float s = 0f;
        for (int p = from; p < k; p++) s += x[p] * w[p];
        return s;
    }

    /// <summary>
    /// r[i * 4 + j] += tail(x row i, w row j) for the K remainder past the last full vector. Called only after the
    /// kernels' accumulators are dead: a call while they are live makes the JIT spill them inside the loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddTails(int xRows, float* x, float* w, int from, int k, float* r)
    {
        for (int i = 0; i < xRows; i++)
            for (int j = 0; j < 4; j++)
                r[i * 4 + j] += Tail(x + (long)i * k, w + (long)j * k, from, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1x1(float* x, float* w, int k)
    {
        var acc = Vector512<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(w + p), acc);
        float sum = Vector512.Sum(acc);
        return sum + Tail(x, w, p, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4(float* x, float* w, int k, float* r)
    {
        float* w1 = w + k, w2 = w1 + k, w3 = w2 + k;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            PrefetchNextBlock(w3 + k + p, k);
            var v0 = Vector512.Load(w + p);
            var v1 = Vector512.Load(w1 + p);
            var v2 = Vector512.Load(w2 + p);
            var v3 = Vector512.Load(w3 + p);
            var xv0 = Vector512.Load(x + p);
            s00 = Vector512.FusedMultiplyAdd(xv0, v0, s00);
            s01 = Vector512.FusedMultiplyAdd(xv0, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(xv0, v2, s02);
            s03 = Vector512.FusedMultiplyAdd(xv0, v3, s03);
        }
        r[0] = Vector512.Sum(s00);
        r[1] = Vector512.Sum(s01);
        r[2] = Vector512.Sum(s02);
        r[3] = Vector512.Sum(s03);
        if (p < k) AddTails(1, x, w, p, k, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4(float* x, float* w, int k, float* r)
    {
        float* w1 = w + k, w2 = w1 + k, w3 = w2 + k;
        float* x1 = x + k;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            PrefetchNextBlock(w3 + k + p, k);
            var v0 = Vector512.Load(w + p);
            var v1 = Vector512.Load(w1 + p);
            var v2 = Vector512.Load(w2 + p);
            var v3 = Vector512.Load(w3 + p);
            var xv0 = Vector512.Load(x + p);
            s00 = Vector512.FusedMultiplyAdd(xv0, v0, s00);
            s01 = Vector512.FusedMultiplyAdd(xv0, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(xv0, v2, s02);
            s03 = Vector512.FusedMultiplyAdd(xv0, v3, s03);
            var xv1 = Vector512.Load(x1 + p);
            s10 = Vector512.FusedMultiplyAdd(xv1, v0, s10);
            s11 = Vector512.FusedMultiplyAdd(xv1, v1, s11);
            s12 = Vector512.FusedMultiplyAdd(xv1, v2, s12);
            s13 = Vector512.FusedMultiplyAdd(xv1, v3, s13);
        }
        r[0] = Vector512.Sum(s00);
        r[1] = Vector512.Sum(s01);
        r[2] = Vector512.Sum(s02);
        r[3] = Vector512.Sum(s03);
        r[4] = Vector512.Sum(s10);
        r[5] = Vector512.Sum(s11);
        r[6] = Vector512.Sum(s12);
        r[7] = Vector512.Sum(s13);
        if (p < k) AddTails(2, x, w, p, k, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4(float* x, float* w, int k, float* r)
    {
        float* w1 = w + k, w2 = w1 + k, w3 = w2 + k;
        float* x1 = x + k;
        float* x2 = x1 + k;
        float* x3 = x2 + k;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            PrefetchNextBlock(w3 + k + p, k);
            var v0 = Vector512.Load(w + p);
            var v1 = Vector512.Load(w1 + p);
            var v2 = Vector512.Load(w2 + p);
            var v3 = Vector512.Load(w3 + p);
            var xv0 = Vector512.Load(x + p);
            s00 = Vector512.FusedMultiplyAdd(xv0, v0, s00);
            s01 = Vector512.FusedMultiplyAdd(xv0, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(xv0, v2, s02);
            s03 = Vector512.FusedMultiplyAdd(xv0, v3, s03);
            var xv1 = Vector512.Load(x1 + p);
            s10 = Vector512.FusedMultiplyAdd(xv1, v0, s10);
            s11 = Vector512.FusedMultiplyAdd(xv1, v1, s11);
            s12 = Vector512.FusedMultiplyAdd(xv1, v2, s12);
            s13 = Vector512.FusedMultiplyAdd(xv1, v3, s13);
            var xv2 = Vector512.Load(x2 + p);
            s20 = Vector512.FusedMultiplyAdd(xv2, v0, s20);
            s21 = Vector512.FusedMultiplyAdd(xv2, v1, s21);
            s22 = Vector512.FusedMultiplyAdd(xv2, v2, s22);
            s23 = Vector512.FusedMultiplyAdd(xv2, v3, s23);
            var xv3 = Vector512.Load(x3 + p);
            s30 = Vector512.FusedMultiplyAdd(xv3, v0, s30);
            s31 = Vector512.FusedMultiplyAdd(xv3, v1, s31);
            s32 = Vector512.FusedMultiplyAdd(xv3, v2, s32);
            s33 = Vector512.FusedMultiplyAdd(xv3, v3, s33);
        }
        r[0] = Vector512.Sum(s00);
        r[1] = Vector512.Sum(s01);
        r[2] = Vector512.Sum(s02);
        r[3] = Vector512.Sum(s03);
        r[4] = Vector512.Sum(s10);
        r[5] = Vector512.Sum(s11);
        r[6] = Vector512.Sum(s12);
        r[7] = Vector512.Sum(s13);
        r[8] = Vector512.Sum(s20);
        r[9] = Vector512.Sum(s21);
        r[10] = Vector512.Sum(s22);
        r[11] = Vector512.Sum(s23);
        r[12] = Vector512.Sum(s30);
        r[13] = Vector512.Sum(s31);
        r[14] = Vector512.Sum(s32);
        r[15] = Vector512.Sum(s33);
        if (p < k) AddTails(4, x, w, p, k, r);
    }

    /// <summary>
    /// Asks for the same 64-byte column of the next four weight rows (the next block this thread streams): decoding
    /// reads every weight once from memory, and overlapping that read with this block's FMAs is what the skinny
    /// path is limited by. Prefetching past the end of the matrix is harmless.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNextBlock(float* next, int k)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch0(next);
        Sse.Prefetch0(next + k);
        Sse.Prefetch0(next + 2 * k);
        Sse.Prefetch0(next + 3 * k);
    }
}

// Decoding GEMM with bf16-stored weights: c (M ≤ 16, N) = alpha · x (M, K) · W (N, K)ᵀ + beta · c, x and c in f32,
// W in bf16 (weight-only bf16: half the bytes of the bandwidth-bound decode step). Each bf16 is widened exactly
// to f32 (bits << 16) in registers and multiplied in f32 with FMA chains over K, as the f32 skinny path does.
// Pairs of activation rows meet four weight rows at a time (Dot2x4: every weight widened once for both rows, eight
// accumulators, the next four rows prefetched); leftovers take the one-row, two-weight-row loop. Threads take tiles
// of 64 weight rows, so the result does not depend on the thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Aim.Engine.Backends.Cpu.Gemm;

internal static unsafe class SkinnyBf16
{
    /// <summary>Most activation rows this path takes.</summary>
    public const int MaxRows = 16;
    private const int RowsPerTask = 64;

    public static void Run(float* a, ushort* b, float* c, int batch, int m, int n, int k, long strideA, long strideB, float alpha, float beta)
    {
        int tiles = (n + RowsPerTask - 1) / RowsPerTask;
        CpuParallel.For((long)batch * tiles, 1, (start, end) =>
        {
            for (long t = start; t < end; t++)
            {
                int bi = (int)(t / tiles);
                int n0 = (int)(t % tiles) * RowsPerTask, n1 = Math.Min(n, n0 + RowsPerTask);
                Tile(a + bi * strideA, b + bi * strideB, c + (long)bi * m * n, m, n, k, n0, n1, alpha, beta);
            }
        });
    }

    private static void Tile(float* x, ushort* w, float* c, int m, int n, int k, int n0, int n1, float alpha, float beta)
    {
        float* r = stackalloc float[8];
        int j = n0;
        int pairs = Avx512F.IsSupported ? m / 2 * 2 : 0;
        for (; j + 4 <= n1; j += 4)
        {
            ushort* w0 = w + (long)j * k;
            for (int i = 0; i < pairs; i += 2)
            {
                Dot2x4(x + (long)i * k, x + (long)(i + 1) * k, w0, w0 + k, w0 + 2L * k, w0 + 3L * k, k, r);
                for (int q = 0; q < 4; q++)
                {
                    Store(c + (long)i * n + j + q, r[q], alpha, beta);
                    Store(c + (long)(i + 1) * n + j + q, r[4 + q], alpha, beta);
                }
            }
            for (int i = pairs; i < m; i++)
                for (int q = 0; q < 4; q += 2)
                {
                    Dot1x2(x + (long)i * k, w0 + q * (long)k, w0 + (q + 1) * (long)k, k, r);
                    Store(c + (long)i * n + j + q, r[0], alpha, beta);
                    Store(c + (long)i * n + j + q + 1, r[1], alpha, beta);
                }
        }
        for (; j < n1; j++)
        {
            ushort* w0 = w + (long)j * k;
            for (int i = 0; i < m; i++)
            {
                Dot1x2(x + (long)i * k, w0, w0, k, r);
                Store(c + (long)i * n + j, r[0], alpha, beta);
            }
        }
    }

    /// <summary>16 bf16 values widened exactly to f32 (zero-extend to 32 bits, shift into the high half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen16(ushort* p)
        => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    /// <summary>r[i·4 + q] = x_i · w_q for two activation rows and four weight rows (16 at a time, then a scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4(float* x0, float* x1, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* r)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        // The four rows are short (2 bytes · k each) and read as four interleaved streams, which the hardware
        // prefetcher does not follow in time: fetch the next four rows (contiguous after w3) two lines per step.
        // (A prefetch past the end of the matrix is a hint and never faults.)
        byte* next = (byte*)(w3 + k);
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            Sse.Prefetch0(next + p * 8);
            Sse.Prefetch0(next + p * 8 + 64);
            var xa = Vector512.Load(x0 + p);
            var xb = Vector512.Load(x1 + p);
            var v = Widen16(w0 + p);
            a0 = Vector512.FusedMultiplyAdd(xa, v, a0);
            b0 = Vector512.FusedMultiplyAdd(xb, v, b0);
            v = Widen16(w1 + p);
            a1 = Vector512.FusedMultiplyAdd(xa, v, a1);
            b1 = Vector512.FusedMultiplyAdd(xb, v, b1);
            v = Widen16(w2 + p);
            a2 = Vector512.FusedMultiplyAdd(xa, v, a2);
            b2 = Vector512.FusedMultiplyAdd(xb, v, b2);
            v = Widen16(w3 + p);
            a3 = Vector512.FusedMultiplyAdd(xa, v, a3);
            b3 = Vector512.FusedMultiplyAdd(xb, v, b3);
        }
        r[0] = Vector512.Sum(a0);
        r[1] = Vector512.Sum(a1);
        r[2] = Vector512.Sum(a2);
        r[3] = Vector512.Sum(a3);
        r[4] = Vector512.Sum(b0);
        r[5] = Vector512.Sum(b1);
        r[6] = Vector512.Sum(b2);
        r[7] = Vector512.Sum(b3);
        for (; p < k; p++)
        {
            float xa = x0[p], xb = x1[p];
            float v0 = BitConverter.UInt32BitsToSingle((uint)w0[p] << 16), v1 = BitConverter.UInt32BitsToSingle((uint)w1[p] << 16);
            float v2 = BitConverter.UInt32BitsToSingle((uint)w2[p] << 16), v3 = BitConverter.UInt32BitsToSingle((uint)w3[p] << 16);
            r[0] += xa * v0;
            r[1] += xa * v1;
            r[2] += xa * v2;
            r[3] += xa * v3;
            r[4] += xb * v0;
            r[5] += xb * v1;
            r[6] += xb * v2;
            r[7] += xb * v3;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float v, float alpha, float beta) => *c = beta == 0f ? alpha * v : alpha * v + beta * *c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High) Widen(ushort* p)
    {
        var (lo, hi) = Vector512.Widen(Vector512.Load(p));
        return (Vector512.ShiftLeft(lo, 16).AsSingle(), Vector512.ShiftLeft(hi, 16).AsSingle());
    }

    /// <summary>r[0] = x·w0, r[1] = x·w1 over k (32 at a time, then a scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x2(float* x, ushort* w0, ushort* w1, int k, float* r)
    {
        Vector512<float> s0 = default, s1 = default, t0 = default, t1 = default;
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            var x0 = Vector512.Load(x + p);
            var x1 = Vector512.Load(x + p + 16);
            var (a0, a1) = Widen(w0 + p);
            var (b0, b1) = Widen(w1 + p);
            s0 = Vector512.FusedMultiplyAdd(x0, a0, s0);
            t0 = Vector512.FusedMultiplyAdd(x1, a1, t0);
            s1 = Vector512.FusedMultiplyAdd(x0, b0, s1);
            t1 = Vector512.FusedMultiplyAdd(x1, b1, t1);
        }
        float r0 = Vector512.Sum(s0 + t0), r1 = Vector512.Sum(s1 + t1);
        for (; p < k; p++)
        {
            r0 += x[p] * BitConverter.UInt32BitsToSingle((uint)w0[p] << 16);
            r1 += x[p] * BitConverter.UInt32BitsToSingle((uint)w1[p] << 16);
        }
        r[0] = r0;
        r[1] = r1;
    }
}

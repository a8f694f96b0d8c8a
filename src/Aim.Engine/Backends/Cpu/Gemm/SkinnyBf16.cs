// Decoding GEMM with bf16-stored weights: c (M ≤ 16, N) = alpha · x (M, K) · W (N, K)ᵀ + beta · c, x and c in f32,
// W in bf16 (weight-only bf16: half the bytes of the bandwidth-bound decode step). Each bf16 is widened exactly
// to f32 (bits << 16) in registers and multiplied in f32 with FMA chains over K, as the f32 skinny path does.
// Threads take tiles of 64 weight rows, so the result does not depend on the thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        float* r = stackalloc float[4];
        int j = n0;
        for (; j + 2 <= n1; j += 2)
        {
            ushort* w0 = w + (long)j * k, w1 = w0 + k;
            for (int i = 0; i < m; i++)
            {
                Dot1x2(x + (long)i * k, w0, w1, k, r);
                Store(c + (long)i * n + j, r[0], alpha, beta);
                Store(c + (long)i * n + j + 1, r[1], alpha, beta);
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

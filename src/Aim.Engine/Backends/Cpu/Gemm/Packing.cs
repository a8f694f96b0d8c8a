// Packing of SGEMM operands into the panel layouts the micro-kernels read (the BLIS/GotoBLAS scheme:
// K. Goto and R. van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3), 2008;
// F. Van Zee and R. van de Geijn, "BLIS", ACM TOMS 41(3), 2015). Panels are zero padded to whole
// micro-tiles so the kernels never branch on edges.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Aim.Engine.Backends.Cpu.Gemm;

/// <summary>Copies blocks of op(A) and op(B) into micro-panels (k-major, MR rows or NR columns wide).</summary>
internal static unsafe class Packing
{
    /// <summary>
    /// Packs rows [i0, i0 + mc) and reduction indices [p0, p0 + kc) of op(A) into ceil(mc / mr) panels of
    /// mr × kc floats; in a panel, element (row r, index p) sits at p * mr + r. Rows past mc are zero.
    /// </summary>
    /// <param name="a">A of one batch: (M, K) row-major, or (K, M) when <paramref name="transA"/>.</param>
    /// <param name="lda">Row length of the stored A (K, or M when transposed).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* a, int lda, bool transA, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (long)ir * kc;
            if (!transA)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(i0 + ir + r) * lda + p0;
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++) d[(long)p * mr] = src[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(p0 + p) * lda + i0 + ir;
                    float* d = panel + (long)p * mr;
                    for (int r = 0; r < rows; r++) d[r] = src[r];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int r = rows; r < mr; r++) panel[(long)p * mr + r] = 0f;
        }
    }

    /// <summary>
    /// Packs reduction indices [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) into ceil(nc / nr) panels of
    /// kc × nr floats; in a panel, element (index p, column c) sits at p * nr + c. Columns past nc are zero.
    /// </summary>
    /// <param name="b">B of one batch: (K, N) row-major, or (N, K) when <paramref name="transB"/>.</param>
    /// <param name="ldb">Row length of the stored B (N, or K when transposed).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, int ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (long)jr * kc;
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(p0 + p) * ldb + j0 + jr;
                    float* d = panel + (long)p * nr;
                    if (cols == nr) Buffer.MemoryCopy(src, d, nr * sizeof(float), nr * sizeof(float));
                    else
                    {
                        for (int cI = 0; cI < cols; cI++) d[cI] = src[cI];
                        for (int cI = cols; cI < nr; cI++) d[cI] = 0f;
                    }
                }
            }
            else if (cols == nr && nr % 8 == 0 && Avx2.IsSupported && (long)nr * ldb <= int.MaxValue)
            {
                // Column p of the panel is element p of nr rows of B: gathered 8 rows at a time (AVX2 gather).
                var rowStep = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * ldb;
                float* rows0 = b + (long)(j0 + jr) * ldb + p0;
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + (long)p * nr;
                    for (int q = 0; q < nr; q += 8)
                        Avx2.GatherVector256(rows0 + (long)q * ldb + p, rowStep, 4).Store(d + q);
                }
            }
            else
            {
                for (int cI = 0; cI < cols; cI++)
                {
                    float* src = b + (long)(j0 + jr + cI) * ldb + p0;
                    float* d = panel + cI;
                    for (int p = 0; p < kc; p++) d[(long)p * nr] = src[p];
                }
                if (cols < nr)
                    for (int p = 0; p < kc; p++)
                        for (int cI = cols; cI < nr; cI++) panel[(long)p * nr + cI] = 0f;
            }
        }
    }
}

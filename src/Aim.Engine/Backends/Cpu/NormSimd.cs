using System.Runtime.Intrinsics;

namespace Aim.Engine.Backends.Cpu;

/// <summary>
/// Float32 row primitives for the norm, softmax, cross-entropy and embedding CPU kernels (Vector256, scalar
/// tails). Reductions add 8 lanes in float within blocks of <see cref="Block"/> elements and the block sums in
/// double, so long rows (GroupNorm groups, big vocabularies) keep about double-sum accuracy at SIMD speed.
/// </summary>
internal static unsafe class NormSimd
{
    /// <summary>Elements summed in float before the partial sum moves to double.</summary>
    public const int Block = 1024;

    /// <summary>Σ p[i].</summary>
    public static double Sum(float* p, long n)
    {
        double total = 0;
        for (long b = 0; b < n; b += Block)
        {
            long end = Math.Min(n, b + Block), i = b;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= end; i += 8) acc += Vector256.Load(p + i);
            float s = Vector256.Sum(acc);
            for (; i < end; i++) s += p[i];
            total += s;
        }
        return total;
    }

    /// <summary>Σ (p[i] - shift)².</summary>
    public static double SumSquares(float* p, long n, float shift)
    {
        double total = 0;
        var vs = Vector256.Create(shift);
        for (long b = 0; b < n; b += Block)
        {
            long end = Math.Min(n, b + Block), i = b;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= end; i += 8)
            {
                var v = Vector256.Load(p + i) - vs;
                acc = Vector256.FusedMultiplyAdd(v, v, acc);
            }
            float s = Vector256.Sum(acc);
            for (; i < end; i++) s += (p[i] - shift) * (p[i] - shift);
            total += s;
        }
        return total;
    }

    /// <summary>Σ a[i]·b[i].</summary>
    public static double Dot(float* a, float* b, long n)
    {
        double total = 0;
        for (long k = 0; k < n; k += Block)
        {
            long end = Math.Min(n, k + Block), i = k;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= end; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            float s = Vector256.Sum(acc);
            for (; i < end; i++) s += a[i] * b[i];
            total += s;
        }
        return total;
    }

    /// <summary>Σ a[i]·(b[i] - center).</summary>
    public static double DotCentered(float* a, float* b, float center, long n)
    {
        double total = 0;
        var vc = Vector256.Create(center);
        for (long k = 0; k < n; k += Block)
        {
            long end = Math.Min(n, k + Block), i = k;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= end; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i) - vc, acc);
            float s = Vector256.Sum(acc);
            for (; i < end; i++) s += a[i] * (b[i] - center);
            total += s;
        }
        return total;
    }

    /// <summary>Σ a[i]·b[i]·(c[i] - center).</summary>
    public static double Dot3(float* a, float* b, float* c, long n, float center = 0)
    {
        double total = 0;
        for (long k = 0; k < n; k += Block)
        {
            long end = Math.Min(n, k + Block), i = k;
            var acc = Vector256<float>.Zero;
            var vc = Vector256.Create(center);
            for (; i + 8 <= end; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i) * Vector256.Load(b + i), Vector256.Load(c + i) - vc, acc);
            float s = Vector256.Sum(acc);
            for (; i < end; i++) s += a[i] * b[i] * (c[i] - center);
            total += s;
        }
        return total;
    }

    /// <summary>max p[i] (n ≥ 1).</summary>
    public static float Max(float* p, long n)
    {
        long i = 0;
        float m = float.NegativeInfinity;
        if (n >= 8)
        {
            var acc = Vector256.Load(p);
            for (i = 8; i + 8 <= n; i += 8) acc = Vector256.Max(acc, Vector256.Load(p + i));
            for (int l = 0; l < 8; l++) m = Math.Max(m, acc.GetElement(l));
        }
        for (; i < n; i++) m = Math.Max(m, p[i]);
        return m;
    }

    /// <summary>Σ e^(p[i] - shift); also writes each term to <paramref name="terms"/> when it is not null.</summary>
    public static double SumExp(float* p, long n, float shift, float* terms)
    {
        double total = 0;
        var vs = Vector256.Create(shift);
        for (long k = 0; k < n; k += Block)
        {
            long end = Math.Min(n, k + Block), i = k;
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= end; i += 8)
            {
                var e = Vector256.Exp(Vector256.Load(p + i) - vs);
                if (terms != null) e.Store(terms + i);
                acc += e;
            }
            float s = Vector256.Sum(acc);
            for (; i < end; i++)
            {
                float e = MathF.Exp(p[i] - shift);
                if (terms != null) terms[i] = e;
                s += e;
            }
            total += s;
        }
        return total;
    }

    /// <summary>y[i] = x[i]·a + b.</summary>
    public static void Affine(float* x, float a, float b, float* y, long n)
    {
        long i = 0;
        var va = Vector256.Create(a);
        var vb = Vector256.Create(b);
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, vb).Store(y + i);
        for (; i < n; i++) y[i] = x[i] * a + b;
    }

    /// <summary>y[i] = (x[i] - center)·a + b (centering first keeps x ≈ center exact).</summary>
    public static void CenterAffine(float* x, float center, float a, float b, float* y, long n)
    {
        long i = 0;
        var vm = Vector256.Create(center);
        var va = Vector256.Create(a);
        var vb = Vector256.Create(b);
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - vm, va, vb).Store(y + i);
        for (; i < n; i++) y[i] = (x[i] - center) * a + b;
    }

    /// <summary>y[i] = x[i]·w[i]·a (w may be null: 1).</summary>
    public static void ScaleMul(float* x, float* w, float a, float* y, long n)
    {
        long i = 0;
        var va = Vector256.Create(a);
        if (w == null)
        {
            Affine(x, a, 0, y, n);
            return;
        }
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * va * Vector256.Load(w + i)).Store(y + i);
        for (; i < n; i++) y[i] = x[i] * a * w[i];
    }

    /// <summary>y[i] = a[i] + b[i].</summary>
    public static void Add(float* a, float* b, float* y, long n)
    {
        long i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(a + i) + Vector256.Load(b + i)).Store(y + i);
        for (; i < n; i++) y[i] = a[i] + b[i];
    }

    /// <summary>
    /// y[i] = (r == null ? 0 : r[i]) + (g == null ? x[i] : g[i]·x[i]), the product rounded before the add (no FMA,
    /// as separate Mul and Add kernels round). Every element is loaded before it is stored, so y may be r itself.
    /// </summary>
    public static void GateAdd(float* x, float* g, float* r, float* y, long n)
    {
        long i = 0;
        if (g == null && r == null)
        {
            new ReadOnlySpan<float>(x, checked((int)n)).CopyTo(new Span<float>(y, checked((int)n)));
            return;
        }
        if (g == null)
        {
            Add(x, r, y, n);
            return;
        }
        if (r == null)
        {
            for (; i + 8 <= n; i += 8) (Vector256.Load(g + i) * Vector256.Load(x + i)).Store(y + i);
            for (; i < n; i++) y[i] = g[i] * x[i];
            return;
        }
        for (; i + 8 <= n; i += 8) (Vector256.Load(g + i) * Vector256.Load(x + i) + Vector256.Load(r + i)).Store(y + i);
        for (; i < n; i++) y[i] = g[i] * x[i] + r[i];
    }

    /// <summary>
    /// y[i] = ((x[i]·a)·w[i])·s[i] + t[i], every product and the sum rounded on its own (the composition ScaleMul,
    /// then Mul and Add kernels).
    /// </summary>
    public static void ScaleMulModulate(float* x, float* w, float a, float* s, float* t, float* y, long n)
    {
        long i = 0;
        var va = Vector256.Create(a);
        for (; i + 8 <= n; i += 8)
            (Vector256.Load(x + i) * va * Vector256.Load(w + i) * Vector256.Load(s + i) + Vector256.Load(t + i)).Store(y + i);
        for (; i < n; i++) y[i] = x[i] * a * w[i] * s[i] + t[i];
    }

    /// <summary>
    /// Column sums over rows in double: result[j] = Σ_r a[r,j]·(b[r,j] - t[r])·s[r], or Σ_r a[r,j] when b is
    /// null (s, t may be null: 1 and 0). Threads split the columns, each column is summed in row order, so the
    /// result does not depend on the thread count.
    /// </summary>
    public static void ColumnSums(float* a, float* b, float* s, float* t, long rows, int d, float* result)
    {
        nint pa = (nint)a, pb = (nint)b, ps = (nint)s, pt = (nint)t, pr = (nint)result;
        CpuParallel.For(d, 64, (c0, c1) =>
        {
            float* ar = (float*)pa, br = (float*)pb, sr = (float*)ps, tr = (float*)pt, res = (float*)pr;
            int width = (int)(c1 - c0);
            var acc = new double[width];
            fixed (double* pacc = acc)
            {
                for (long r = 0; r < rows; r++)
                {
                    float* arow = ar + r * d + c0;
                    float* brow = br == null ? null : br + r * d + c0;
                    float sv = sr == null ? 1 : sr[r], tv = tr == null ? 0 : tr[r];
                    var vsv = Vector256.Create(sv);
                    var vtv = Vector256.Create(tv);
                    int j = 0;
                    for (; j + 8 <= width; j += 8)
                    {
                        var v = Vector256.Load(arow + j);
                        if (brow != null) v *= (Vector256.Load(brow + j) - vtv) * vsv;
                        Vector256.Store(Vector256.Load(pacc + j) + Vector256.WidenLower(v), pacc + j);
                        Vector256.Store(Vector256.Load(pacc + j + 4) + Vector256.WidenUpper(v), pacc + j + 4);
                    }
                    for (; j < width; j++) pacc[j] += brow == null ? arow[j] : arow[j] * ((brow[j] - tv) * sv);
                }
            }
            for (int j = 0; j < width; j++) res[c0 + j] = (float)acc[j];
        });
    }

    /// <summary>Rows per thread chunk for a row length: about 16K elements a chunk (depends only on the size).</summary>
    public static long RowGrain(long rowLength) => Math.Max(1, 16384 / Math.Max(1, rowLength));
}

using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the Mamba-2 sequence kernels: CausalConv1d (+ backward kernel, step), SsdScan
// (+ backward kernel), SsmStep. Inputs follow the real init: dt log-uniform in (0.001, 0.1), a = -U(1, 16).
public static partial class OpCases
{
    /// <summary>One SSD scan configuration.</summary>
    private sealed record ScanConfig(int B, int L, int H, int G, int P, int N, int Chunk, bool Init, bool D, bool View)
    {
        public override string ToString()
            => $"B={B},L={L},H={H},G={G},P={P},N={N},chunk={Chunk}{(Init ? ",init" : "")}{(D ? ",D" : "")}{(View ? ",view" : "")}";
    }

    // A property, not a field: the static field All (OpCases.cs) may initialise before this file's fields.
    private static ScanConfig[] ScanConfigs =>
    [
        new(1, 1, 1, 1, 1, 1, 4, false, true, false),
        new(1, 7, 2, 1, 7, 7, 3, true, true, false),
        new(2, 7, 4, 2, 16, 16, 7, false, true, false),
        new(2, 31, 4, 2, 7, 16, 8, true, true, false),
        new(1, 31, 2, 2, 16, 7, 31, true, false, false),
        new(2, 31, 1, 1, 1, 16, 16, false, true, false),
        new(2, 7, 4, 1, 7, 7, 4, true, true, true),
        new(1, 31, 2, 1, 16, 16, 5, false, true, true),
        new(1, 257, 1, 1, 2, 3, 64, true, true, false),
    ];

    /// <summary>Step sizes like the real init: log-uniform in (0.001, 0.1).</summary>
    public static Tensor RandDt(Rng rng, params int[] shape)
    {
        using var u = rng.Uniform(shape, Math.Log(0.001), Math.Log(0.1));
        return Ops.Exp(u);
    }

    /// <summary>Decay rates like the real init: a = -U(1, 16).</summary>
    public static Tensor RandA(Rng rng, int h) => rng.Uniform([h], -16, -1);

    /// <summary>
    /// Scan inputs [x, dt, a, b, c, (d), (init)]. With View, x is (B, L, H, P+3) and b/c are (B, L, G, 2N):
    /// the forward narrows them to strided views.
    /// </summary>
    private static Tensor[] ScanInputs(Rng rng, ScanConfig s)
    {
        var list = new List<Tensor>
        {
            Randn(rng, s.B, s.L, s.H, s.View ? s.P + 3 : s.P),
            RandDt(rng, s.B, s.L, s.H),
            RandA(rng, s.H),
            Randn(rng, s.B, s.L, s.G, s.View ? 2 * s.N : s.N),
            Randn(rng, s.B, s.L, s.G, s.View ? 2 * s.N : s.N),
        };
        if (s.D) list.Add(Randn(rng, s.H));
        if (s.Init) list.Add(rng.Normal([s.B, s.H, s.P, s.N], 0, 0.5));
        return [.. list];
    }

    /// <summary>The scan operands from <see cref="ScanInputs"/>: (x, dt, a, b, c, d, init), views applied.</summary>
    private static (Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Init) ScanOperands(Tensor[] t, ScanConfig s)
    {
        int i = 5;
        Tensor? d = s.D ? t[i++] : null;
        Tensor? init = s.Init ? t[i] : null;
        if (!s.View) return (t[0], t[1], t[2], t[3], t[4], d, init);
        return (Ops.Narrow(t[0], 3, 1, s.P), t[1], t[2], Ops.Narrow(t[3], 3, 0, s.N), Ops.Narrow(t[4], 3, s.N, s.N), d, init);
    }

    /// <summary>SsdScan forward (Y and FinalState) and float64 gradients through both outputs.</summary>
    public static IEnumerable<OpCase> SsdScan()
    {
        foreach (var s in ScanConfigs)
        {
            yield return new OpCase("SsdScan", s.ToString(), rng => ScanInputs(rng, s), t =>
            {
                var (x, dt, a, b, c, d, init) = ScanOperands(t, s);
                var (y, final) = Ops.SsdScan(x, dt, a, b, c, d, s.Chunk, init);
                return [y, final];
            }) { GradSamples = 24 };
        }
    }

    /// <summary>The SsdScan backward kernel itself, target vs reference (grad mode covers its correctness).</summary>
    public static IEnumerable<OpCase> SsdScanBackward() =>
        ScanBackwardCases("SsdScanBackward", (k, s, o, g) =>
        {
            k.SsdScanBackward(o.X, o.Dt, o.A, o.B, o.C, o.D, o.Init, g.DY, g.DFinal, null, 0, g.Dx, g.Ddt, g.Da, g.Db, g.Dc, g.Dd, g.Di);
            return [g.Dx, g.Ddt, g.Da, g.Db, g.Dc, g.Dd, g.Di];
        });

    /// <summary>The scan's operands as <see cref="ScanOperands"/> gives them.</summary>
    private readonly record struct ScanArgs(Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Init);

    /// <summary>The incoming gradients (dY, dFinal or null) and the backward's outputs, allocated on x's device.</summary>
    private readonly record struct ScanGrads(Tensor DY, Tensor? DFinal, Tensor Dx, Tensor Ddt, Tensor Da, Tensor Db, Tensor Dc, Tensor Dd, Tensor Di);

    /// <summary>
    /// A case per scan configuration and with/without dFinal that runs <paramref name="run"/> on the backend's kernels
    /// with random operands and incoming gradients; HasGradient off (the kernel itself is compared), NMSE ≤ 1e-9.
    /// </summary>
    private static IEnumerable<OpCase> ScanBackwardCases(string op, Func<IKernels, ScanConfig, ScanArgs, ScanGrads, Tensor[]> run)
    {
        foreach (var s in ScanConfigs)
        {
            foreach (bool withFinal in new[] { true, false })
            {
                yield return new OpCase(op, $"{s}{(withFinal ? ",dFinal" : "")}", rng =>
                {
                    var inputs = ScanInputs(rng, s).ToList();
                    inputs.Add(Randn(rng, s.B, s.L, s.H, s.P));
                    inputs.Add(Randn(rng, s.B, s.H, s.P, s.N));
                    return [.. inputs];
                }, t =>
                {
                    var (x, dt, a, b, c, d, init) = ScanOperands(t, s);
                    var dev = x.Device;
                    // With View, dX, dB and dC are views too (the tape's gradient slots): columns of zeroed wider buffers,
                    // compared whole so that a write outside a view shows.
                    var wide = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
                    Tensor Out(int[] shape, int extra, int at)
                    {
                        if (!s.View) return Tensor.Empty(shape, x.DType, dev);
                        var buffer = Tensor.Zeros([.. shape[..^1], shape[^1] + extra], x.DType, dev);
                        var view = Ops.Narrow(buffer, shape.Length - 1, at, shape[^1]);
                        wide[view] = buffer;
                        return view;
                    }
                    var grads = new ScanGrads(t[^2], withFinal ? t[^1] : null,
                        Out([s.B, s.L, s.H, s.P], 3, 2), Tensor.Empty([s.B, s.L, s.H], x.DType, dev), Tensor.Empty([s.H], x.DType, dev),
                        Out([s.B, s.L, s.G, s.N], s.N, 0), Out([s.B, s.L, s.G, s.N], s.N, s.N), Tensor.Empty([s.H], x.DType, dev),
                        Tensor.Empty([s.B, s.H, s.P, s.N], x.DType, dev));
                    var outputs = run(Backend.Kernels(dev), s, new ScanArgs(x, dt, a, b, c, d, init), grads);
                    return [.. outputs.Select(o => wide.GetValueOrDefault(o, o))];
                }) { HasGradient = false, MaxNmse = 1e-9 };
            }
        }
    }

    /// <summary>SsmStep: one token from a random state, target vs reference (the state is cloned, then updated).</summary>
    public static IEnumerable<OpCase> SsmStep()
    {
        int[][] sizes = [[1, 1, 1, 1, 1], [2, 4, 2, 7, 16], [1, 2, 1, 16, 7], [2, 24, 1, 64, 128], [12, 24, 1, 64, 16], [11, 25, 1, 13, 7]];
        foreach (var z in sizes)
        {
            int bsz = z[0], h = z[1], g = z[2], p = z[3], n = z[4];
            yield return new OpCase("SsmStep", $"B={bsz},H={h},G={g},P={p},N={n}", rng =>
                [rng.Normal([bsz, h, p, n], 0, 0.5), Randn(rng, bsz, h, p), RandDt(rng, bsz, h), RandA(rng, h),
                 Randn(rng, bsz, g, n), Randn(rng, bsz, g, n), Randn(rng, h)],
                t =>
                {
                    var state = Ops.Clone(t[0]);
                    var y = Ops.SsmStep(state, t[1], t[2], t[3], t[4], t[5], t[6]);
                    return [y, state];
                }) { HasGradient = false };
            // The decode form: raw dt as a strided column block of a wider row (in_proj's output), bias and softplus inside.
            yield return new OpCase("SsmStep", $"B={bsz},H={h},G={g},P={p},N={n},dtBias,dtView", rng =>
                [rng.Normal([bsz, h, p, n], 0, 0.5), Randn(rng, bsz, h, p), Randn(rng, bsz, h + 3), RandA(rng, h),
                 Randn(rng, bsz, g, n), Randn(rng, bsz, g, n), Randn(rng, h), Randn(rng, h)],
                t =>
                {
                    var state = Ops.Clone(t[0]);
                    var y = Ops.SsmStep(state, t[1], Ops.Narrow(t[2], 1, 2, h), t[3], t[4], t[5], t[6], dtBias: t[7]);
                    return [y, state];
                }) { HasGradient = false };
        }
    }

    /// <summary>One conv configuration.</summary>
    private sealed record ConvConfig(int B, int L, int C, int K, bool Bias, bool Silu, bool View)
    {
        public override string ToString() => $"B={B},L={L},C={C},K={K}{(Bias ? ",bias" : "")}{(Silu ? ",silu" : "")}{(View ? ",view" : "")}";
    }

    private static ConvConfig[] ConvConfigs =>
    [
        new(1, 1, 1, 4, true, true, false),
        new(1, 2, 7, 4, true, true, false),
        new(2, 7, 31, 4, true, true, false),
        new(2, 7, 31, 4, false, false, false),
        new(1, 31, 7, 3, true, false, false),
        new(2, 31, 33, 4, true, true, true),
        new(1, 257, 9, 4, true, true, false),
        new(1, 7, 16, 1, true, true, false),
    ];

    private static Tensor[] ConvInputs(Rng rng, ConvConfig s)
    {
        var list = new List<Tensor> { Randn(rng, s.B, s.L, s.View ? s.C + 5 : s.C), Rand(rng, -0.5, 0.5, s.C, s.K) };
        if (s.Bias) list.Add(Rand(rng, -0.5, 0.5, s.C));
        return [.. list];
    }

    private static Tensor ConvX(Tensor t, ConvConfig s) => s.View ? Ops.Narrow(t, 2, 2, s.C) : t;

    /// <summary>CausalConv1d forward and float64 gradients to x, weight, bias.</summary>
    public static IEnumerable<OpCase> CausalConv1d()
    {
        foreach (var s in ConvConfigs)
            yield return new OpCase("CausalConv1d", s.ToString(), rng => ConvInputs(rng, s),
                t => [Ops.CausalConv1d(ConvX(t[0], s), t[1], s.Bias ? t[2] : null, s.Silu)]) { GradSamples = 32 };
    }

    /// <summary>The CausalConv1d backward kernel itself, target vs reference.</summary>
    public static IEnumerable<OpCase> CausalConv1dBackward()
    {
        foreach (var s in ConvConfigs)
            yield return new OpCase("CausalConv1dBackward", s.ToString(), rng => [.. ConvInputs(rng, s), Randn(rng, s.B, s.L, s.C)], t =>
            {
                var x = ConvX(t[0], s);
                var k = Backend.Kernels(x.Device);
                // A view x gets a view dX too (columns 3.. of a zeroed wider buffer, as the tape's gradient slot is).
                var dxBuffer = s.View ? Tensor.Zeros([s.B, s.L, s.C + 4], x.DType, x.Device) : null;
                var dx = dxBuffer is null ? Tensor.Empty([s.B, s.L, s.C], x.DType, x.Device) : Ops.Narrow(dxBuffer, 2, 3, s.C);
                var dw = Tensor.Empty([s.C, s.K], x.DType, x.Device);
                var db = Tensor.Empty([s.C], x.DType, x.Device);
                k.CausalConv1dBackward(x, t[1], s.Bias ? t[2] : null, s.Silu, t[^1], dx, dw, db);
                dx = dxBuffer ?? dx;
                return s.Bias ? [dx, dw, db] : [dx, dw];
            }) { HasGradient = false };
    }

    /// <summary>CausalConv1dStep from a random cache, target vs reference (the cache is cloned, then updated).</summary>
    public static IEnumerable<OpCase> CausalConv1dStep()
    {
        int[][] sizes = [[1, 1, 4], [2, 31, 4], [2, 1792, 4], [1, 7, 1], [3, 5, 8], [2, 9, 3]];   // K 4 and 8: float4 windows on CUDA
        foreach (var z in sizes)
        {
            int bsz = z[0], ch = z[1], k = z[2];
            foreach (bool silu in new[] { true, false })
                yield return new OpCase("CausalConv1dStep", $"B={bsz},C={ch},K={k}{(silu ? ",silu" : "")}", rng =>
                    [Randn(rng, bsz, ch, k), Randn(rng, bsz, ch), Rand(rng, -0.5, 0.5, ch, k), Rand(rng, -0.5, 0.5, ch)],
                    t =>
                    {
                        var state = Ops.Clone(t[0]);
                        var y = Ops.CausalConv1dStep(state, t[1], t[2], t[3], silu);
                        return [y, state];
                    }) { HasGradient = false };
        }
    }
}

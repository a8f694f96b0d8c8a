// The Ssm family of the contract (IKernels.Ssm.cs) on CUDA, float32 only: CausalConv1d (+ backward, step) in
// conv1d.cu and the SSD scan (chunked forward, backward, step) in ssm.cu. Formulas: aim-architecture.md
// §3.4-3.6, the same definitions as ReferenceKernels.Ssm.cs; the kernel files say how each is computed.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int SsdTile = 64;        // SSD_TM / SSD_TN in ssm.cu
    private const int SsdThreads = 256;    // SSD_THREADS
    private const int SsdBwdThreads = 256; // BWD_THREADS
    private const int SsdBwdMaxP = 64;     // BWD_WARPS · BWD_RP
    private const int SsdBwdMaxN = 128;    // 32 · BWD_RN
    private const int SsmStepThreads = 256; // STEP_WARPS · 32
    private const int ConvDwChannels = 32; // CONV_DW_CH in conv1d.cu

    /// <inheritdoc />
    public void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        const string op = nameof(CausalConv1d);
        OnDeviceAll(op, x, weight, bias, output);
        var s = SsmChecks.Conv(op, x, weight, bias);
        F32(op, x);
        Out(op, "output", output, s.B, s.L, s.C);
        long n = (long)s.B * s.L * s.C;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
        args.Add(Ptr(x));
        args.Add(x.Strides[0]);
        args.Add(x.Strides[1]);
        args.Add(Ptr(weight));
        args.Add(PtrOrNull(bias));
        args.Add(silu ? 1 : 0);
        args.Add(Ptr(output));
        AddDims(ref args, s.B, s.L, s.C, s.K);
        LaunchElementwise(Function("conv1d.cu", "conv1d_fwd_f32"), n, args);
    }

    /// <inheritdoc />
    public void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias)
    {
        const string op = nameof(CausalConv1dBackward);
        OnDeviceAll(op, x, weight, bias, dOutput, dX, dWeight, dBias);
        var s = SsmChecks.Conv(op, x, weight, bias);
        F32(op, x);
        Out(op, "dOutput", dOutput, s.B, s.L, s.C);
        Out(op, "dX", dX, s.B, s.L, s.C);
        Out(op, "dWeight", dWeight, s.C, s.K);
        if (dBias is not null) Out(op, "dBias", dBias, s.C);
        long n = (long)s.B * s.L * s.C;
        if (s.C == 0) return;
        using var dzBuffer = silu && n > 0 ? Tensor.Empty([s.B, s.L, s.C], DType.Float32, x.Device) : null;
        Tensor dz = dzBuffer ?? dOutput;
        if (dzBuffer is not null)
        {
            var a = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
            a.Add(Ptr(x));
            a.Add(x.Strides[0]);
            a.Add(x.Strides[1]);
            a.Add(Ptr(weight));
            a.Add(PtrOrNull(bias));
            a.Add(Ptr(dOutput));
            a.Add(Ptr(dzBuffer));
            AddDims(ref a, s.B, s.L, s.C, s.K);
            LaunchElementwise(Function("conv1d.cu", "conv1d_bwd_dz_f32"), n, a);
        }
        if (n > 0)
        {
            var a = new KernelArgs(stackalloc byte[96], stackalloc nint[8]);
            a.Add(Ptr(dz));
            a.Add(Ptr(weight));
            a.Add(Ptr(dX));
            AddDims(ref a, s.B, s.L, s.C, s.K);
            LaunchElementwise(Function("conv1d.cu", "conv1d_bwd_dx_f32"), n, a);
        }
        var w = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
        w.Add(Ptr(x));
        w.Add(x.Strides[0]);
        w.Add(x.Strides[1]);
        w.Add(Ptr(dz));
        w.Add(Ptr(dWeight));
        w.Add(PtrOrNull(dBias));
        AddDims(ref w, s.B, s.L, s.C, s.K);
        long blocks = (long)((s.C + ConvDwChannels - 1) / ConvDwChannels) * (s.K + 1);
        Launch(Function("conv1d.cu", "conv1d_bwd_dw_f32"), checked((uint)blocks), 256, 0, w);
    }

    /// <inheritdoc />
    public void CausalConv1dStep(Tensor convState, Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        const string op = nameof(CausalConv1dStep);
        OnDeviceAll(op, convState, x, weight, bias, output);
        KernelChecks.Rank(op, "convState", convState, 3);
        int bsz = convState.Shape[0], ch = convState.Shape[1], k = convState.Shape[2];
        KernelChecks.Shape(op, "x", x, bsz, ch);
        KernelChecks.Shape(op, "weight", weight, ch, k);
        if (bias is not null) KernelChecks.Shape(op, "bias", bias, ch);
        KernelChecks.Contiguous(op, "convState", convState);
        KernelChecks.Contiguous(op, "weight", weight);
        if (bias is not null) KernelChecks.Contiguous(op, "bias", bias);
        SsmChecks.UnitLastStride(op, "x", x);
        SsmChecks.Floats(op, convState, x, weight, bias);
        F32(op, x);
        Out(op, "output", output, bsz, ch);
        long n = (long)bsz * ch;
        if (n == 0) return;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
        args.Add(Ptr(convState));
        args.Add(Ptr(x));
        args.Add(x.Strides[0]);
        args.Add(Ptr(weight));
        args.Add(PtrOrNull(bias));
        args.Add(silu ? 1 : 0);
        args.Add(Ptr(output));
        args.Add(bsz);
        args.Add(ch);
        args.Add(k);
        LaunchElementwise(Function("conv1d.cu", "conv1d_step_f32"), n, args);
    }

    /// <inheritdoc />
    public void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState)
    {
        const string op = nameof(SsdScan);
        OnDeviceAll(op, x, dt, a, b, c, d, initialState, y, finalState);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        if (chunkSize < 1) throw new ArgumentException($"{op}: chunkSize must be positive, got {chunkSize}");
        F32(op, x);
        Out(op, "y", y, s.B, s.L, s.H, s.P);
        Out(op, "finalState", finalState, s.B, s.H, s.P, s.N);
        if (s.B == 0 || s.H == 0 || s.P == 0 || s.N == 0) return;
        int q = Math.Max(1, Math.Min(chunkSize, s.L));
        int nc = (s.L + q - 1) / q;
        int pn = s.P * s.N;
        var dev = x.Device;
        using var cs = Tensor.Empty([s.B, s.H, Math.Max(s.L, 1)], DType.Float32, dev);
        using var w = Tensor.Empty([s.B, s.H, Math.Max(s.L, 1)], DType.Float32, dev);
        using var cb = Tensor.Empty([s.B, s.G, Math.Max(nc, 1), q, q], DType.Float32, dev);
        using var st = Tensor.Empty([s.B, s.H, Math.Max(nc, 1), s.P, s.N], DType.Float32, dev);
        long bhc = (long)s.B * s.H * nc;
        if (nc > 0)
        {
            var a1 = new KernelArgs(stackalloc byte[96], stackalloc nint[10]);
            a1.Add(Ptr(dt));
            a1.Add(Ptr(a));
            a1.Add(Ptr(cs));
            a1.Add(Ptr(w));
            AddDims(ref a1, s.B, s.L, s.H, q, nc);
            Launch(Function("ssm.cu", "ssd_cumsum_f32"), checked((uint)((bhc + 127) / 128)), 128, 0, a1);

            int tq = (q + SsdTile - 1) / SsdTile;
            var a2 = new KernelArgs(stackalloc byte[192], stackalloc nint[16]);
            AddStrided(ref a2, b, 3);
            AddStrided(ref a2, c, 3);
            a2.Add(Ptr(cb));
            AddDims(ref a2, s.B, s.L, s.G, s.N, q, nc);
            Launch(Function("ssm.cu", "ssd_cb_f32"), checked((uint)((long)s.B * s.G * nc * tq * tq)), SsdThreads, 0, a2);

            int tp = (s.P + SsdTile - 1) / SsdTile, tn = (s.N + SsdTile - 1) / SsdTile;
            var a3 = new KernelArgs(stackalloc byte[192], stackalloc nint[20]);
            AddStrided(ref a3, x, 3);
            AddStrided(ref a3, b, 3);
            a3.Add(Ptr(w));
            a3.Add(Ptr(st));
            AddDims(ref a3, s.B, s.L, s.H, s.G, s.P, s.N, q, nc);
            Launch(Function("ssm.cu", "ssd_chunk_state_f32"), checked((uint)(bhc * tp * tn)), SsdThreads, 0, a3);
        }

        var a4 = new KernelArgs(stackalloc byte[96], stackalloc nint[12]);
        a4.Add(Ptr(st));
        a4.Add(Ptr(cs));
        a4.Add(PtrOrNull(initialState));
        a4.Add(Ptr(finalState));
        AddDims(ref a4, s.B, s.L, s.H, pn, q, nc);
        LaunchElementwise(Function("ssm.cu", "ssd_state_pass_f32"), (long)s.B * s.H * pn, a4);

        if (nc > 0)
        {
            int tq = (q + SsdTile - 1) / SsdTile, tp = (s.P + SsdTile - 1) / SsdTile;
            var a5 = new KernelArgs(stackalloc byte[320], stackalloc nint[28]);
            AddStrided(ref a5, x, 3);
            a5.Add(Ptr(dt));
            AddStrided(ref a5, c, 3);
            a5.Add(PtrOrNull(d));
            a5.Add(Ptr(cb));
            a5.Add(Ptr(cs));
            a5.Add(Ptr(st));
            a5.Add(initialState is null ? 0 : 1);
            a5.Add(Ptr(y));
            AddDims(ref a5, s.B, s.L, s.H, s.G, s.P, s.N, q, nc);
            Launch(Function("ssm.cu", "ssd_chunk_scan_f32"), checked((uint)(bhc * tq * tp)), SsdThreads, 0, a5);
        }
    }

    /// <inheritdoc />
    public void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState)
    {
        const string op = nameof(SsdScanBackward);
        OnDeviceAll(op, x, dt, a, b, c, d, initialState, dY, dFinalState, dX, dDt, dA, dB, dC, dD, dInitialState);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        F32(op, x);
        Out(op, "dY", dY, s.B, s.L, s.H, s.P);
        if (dFinalState is not null) Out(op, "dFinalState", dFinalState, s.B, s.H, s.P, s.N);
        Out(op, "dX", dX, s.B, s.L, s.H, s.P);
        Out(op, "dDt", dDt, s.B, s.L, s.H);
        Out(op, "dA", dA, s.H);
        Out(op, "dB", dB, s.B, s.L, s.G, s.N);
        Out(op, "dC", dC, s.B, s.L, s.G, s.N);
        if (dD is not null) Out(op, "dD", dD, s.H);
        if (dInitialState is not null) Out(op, "dInitialState", dInitialState, s.B, s.H, s.P, s.N);
        if (s.P > SsdBwdMaxP || s.N > SsdBwdMaxN)
            throw new NotSupportedException($"{op}: the CUDA backward keeps a head's state in registers and supports P ≤ {SsdBwdMaxP}, N ≤ {SsdBwdMaxN}; got P={s.P}, N={s.N}");
        if (s.H == 0) return;
        var dev = x.Device;
        bool direct = s.H == s.G;
        using var dbh = direct ? null : Tensor.Empty([s.B, Math.Max(s.L, 1), s.H, s.N], DType.Float32, dev);
        using var dch = direct ? null : Tensor.Empty([s.B, Math.Max(s.L, 1), s.H, s.N], DType.Float32, dev);
        using var partDa = Tensor.Empty([Math.Max(s.B, 1), s.H], DType.Float64, dev);
        using var partDd = Tensor.Empty([Math.Max(s.B, 1), s.H], DType.Float64, dev);
        if (s.B > 0)
        {
            var k = new KernelArgs(stackalloc byte[512], stackalloc nint[40]);
            AddStrided(ref k, x, 3);
            k.Add(Ptr(dt));
            k.Add(Ptr(a));
            AddStrided(ref k, b, 3);
            AddStrided(ref k, c, 3);
            k.Add(PtrOrNull(d));
            k.Add(PtrOrNull(initialState));
            k.Add(Ptr(dY));
            k.Add(PtrOrNull(dFinalState));
            k.Add(Ptr(dX));
            k.Add(Ptr(dDt));
            k.Add(Ptr(dbh ?? dB));
            k.Add(Ptr(dch ?? dC));
            k.Add(Ptr(partDa));
            k.Add(Ptr(partDd));
            k.Add(PtrOrNull(dInitialState));
            AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N);
            Launch(Function("ssm.cu", "ssd_bwd_f32"), checked((uint)((long)s.B * s.H)), SsdBwdThreads, 0, k);
        }
        else
        {
            Fill(0, partDa);
            Fill(0, partDd);
        }
        if (!direct && dbh is not null && dch is not null)
        {
            var g = new KernelArgs(stackalloc byte[96], stackalloc nint[10]);
            g.Add(Ptr(dbh));
            g.Add(Ptr(dch));
            g.Add(Ptr(dB));
            g.Add(Ptr(dC));
            AddDims(ref g, s.B, s.L, s.H, s.G, s.N);
            LaunchElementwise(Function("ssm.cu", "ssd_bwd_group_sum_f32"), (long)s.B * s.L * s.G * s.N, g);
        }
        var r = new KernelArgs(stackalloc byte[64], stackalloc nint[6]);
        r.Add(Ptr(partDa));
        r.Add(Ptr(partDd));
        r.Add(Ptr(dA));
        r.Add(PtrOrNull(dD));
        r.Add(s.B);
        r.Add(s.H);
        LaunchElementwise(Function("ssm.cu", "ssd_bwd_head_sum_f32"), s.H, r);
    }

    /// <inheritdoc />
    public void SsmStep(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor y, Tensor? dtBias)
    {
        const string op = nameof(SsmStep);
        OnDeviceAll(op, state, x, dt, a, b, c, d, y, dtBias);
        var s = SsmChecks.Step(op, state, x, dt, a, b, c, d, dtBias);
        F32(op, x);
        Out(op, "y", y, s.B, s.H, s.P);
        if (s.B == 0 || s.H == 0 || s.P == 0) return;
        var args = new KernelArgs(stackalloc byte[256], stackalloc nint[24]);
        args.Add(Ptr(state));
        args.Add(Ptr(x));
        args.Add(x.Strides[0]);
        args.Add(x.Strides[1]);
        args.Add(Ptr(dt));
        args.Add(dt.Strides[0]);
        args.Add(PtrOrNull(dtBias));
        args.Add(Ptr(a));
        args.Add(Ptr(b));
        args.Add(b.Strides[0]);
        args.Add(b.Strides[1]);
        args.Add(Ptr(c));
        args.Add(c.Strides[0]);
        args.Add(c.Strides[1]);
        args.Add(PtrOrNull(d));
        args.Add(Ptr(y));
        AddDims(ref args, s.B, s.H, s.G, s.P, s.N);
        // Rows of P per warp: 1 while (batch, head) pairs are few (batch-1 decode: 2·24 pairs), else all of a warp's share.
        int warps = SsmStepThreads / 32;
        int pPerWarp = (long)s.B * s.H >= 2L * _backend.Context.MultiprocessorCount ? (s.P + warps - 1) / warps : 1;
        args.Add(pPerWarp);
        long rowsPerBlock = (long)warps * pPerWarp;
        long pBlocks = (s.P + rowsPerBlock - 1) / rowsPerBlock;
        Launch(Function("ssm.cu", "ssm_step_f32"), checked((uint)((long)s.B * s.H * pBlocks)), SsmStepThreads, 0, args);
    }

    // ---- helpers

    /// <summary>The CUDA Ssm kernels compute in float32 only (SsmChecks has already made every dtype equal).</summary>
    private void F32(string op, Tensor like)
    {
        if (like.DType != DType.Float32) throw KernelChecks.Unsupported(op, Name, like.DType);
    }

    /// <summary>An output (or contiguous gradient input): shape, contiguity, float32.</summary>
    private void Out(string op, string name, Tensor t, params ReadOnlySpan<int> shape)
    {
        KernelChecks.Shape(op, name, t, shape);
        KernelChecks.Contiguous(op, name, t);
        if (t.DType != DType.Float32) throw KernelChecks.Unsupported(op, Name, t.DType);
    }

    /// <summary>Adds the pointer and the strides of the first <paramref name="dims"/> dimensions (the last one has unit stride).</summary>
    private static void AddStrided(ref KernelArgs args, Tensor t, int dims)
    {
        args.Add(Ptr(t));
        for (int i = 0; i < dims; i++) args.Add(t.Strides[i]);
    }

    private static void AddDims(ref KernelArgs args, params ReadOnlySpan<int> dims)
    {
        foreach (int v in dims) args.Add(v);
    }
}

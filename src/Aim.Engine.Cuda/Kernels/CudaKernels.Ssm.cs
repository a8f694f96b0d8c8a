// The Ssm family of the contract (IKernels.Ssm.cs) on CUDA, float32 only: CausalConv1d (+ backward, step) in
// conv1d.cu and the SSD inference step in ssm_step.cu; the whole-sequence scan is in CudaKernels.SsdScan.cs.
// Formulas: aim-architecture.md §3.4-3.6, the same definitions as ReferenceKernels.Ssm.cs; the kernel files say
// how each is computed.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int SsmStepThreads = 256; // STEP_WARPS · 32: the largest block ssm_step_f32 takes
    // conv1d.cu's one-pass backward: blocks of CONV_BWD_CH channels × CONV_BWD_GROUPS time stretches of ConvBwdSpan
    // steps (four sub-runs of CONV_BWD_STEPS = 8; a problem-size-free choice, so the dW summation order is the same
    // on every GPU).
    private const int ConvBwdChannels = 32, ConvBwdGroups = 8, ConvBwdSpan = 32;
    private const int ConvMaxTaps = 8;      // CONV_MAX_K: the most taps any conv kernel takes
    // conv1d.cu's forward time runs (CONV_RUN, CONV_RUN_THREADS): a thread per (batch, channel, 16 steps), 128 channels a block.
    private const int ConvRun = 16, ConvRunThreads = 128;

    /// <inheritdoc />
    public void CausalConv1d(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor output)
    {
        const string op = nameof(CausalConv1d);
        OnDeviceAll(op, x, weight, bias, output);
        var s = SsmChecks.Conv(op, x, weight, bias);
        F32(op, x);
        Out(op, "output", output, s.B, s.L, s.C);
        CheckConvTaps(op, s.K);
        if ((long)s.B * s.L * s.C == 0) return;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[8]);
        AddStrided(ref args, x, 2);
        args.Add(Ptr(weight));
        args.Add(PtrOrNull(bias));
        args.Add(Ptr(output));
        args.Add(s.L);
        args.Add(s.C);
        Launch(Function("conv1d.cu", ConvKernel("fwd", silu, s.K)), ConvRunBlocks(s.B, s.L, s.C), ConvRunThreads, 0, args);
    }

    /// <summary>conv1d.cu's kernel of a pass ("fwd", "bwd") compiled for <paramref name="k"/> taps, with or without SiLU.</summary>
    private static string ConvKernel(string pass, bool silu, int k) => silu ? $"conv1d_{pass}_silu_k{k}_f32" : $"conv1d_{pass}_k{k}_f32";

    private static uint ConvRunBlocks(int b, int l, int c) =>
        checked((uint)((long)b * ((l + ConvRun - 1) / ConvRun) * ((c + ConvRunThreads - 1) / ConvRunThreads)));

    private static void CheckConvTaps(string op, int k)
    {
        if (k > ConvMaxTaps) throw new NotSupportedException($"{op}: kernel size {k} exceeds the CUDA conv kernels' {ConvMaxTaps} taps");
    }

    /// <inheritdoc />
    public void CausalConv1dBackward(Tensor x, Tensor weight, Tensor? bias, bool silu, Tensor dOutput, Tensor dX, Tensor dWeight, Tensor? dBias)
    {
        const string op = nameof(CausalConv1dBackward);
        OnDeviceAll(op, x, weight, bias, dOutput, dX, dWeight, dBias);
        var s = SsmChecks.Conv(op, x, weight, bias);
        F32(op, x);
        Out(op, "dOutput", dOutput, s.B, s.L, s.C);
        SsmChecks.OutputView(op, "dX", dX, x, s.B, s.L, s.C);
        Out(op, "dWeight", dWeight, s.C, s.K);
        if (dBias is not null) Out(op, "dBias", dBias, s.C);
        CheckConvTaps(op, s.K);
        if (s.C == 0) return;
        // One pass (conv1d_bwd_[silu_]k{K}_f32): dx, and the dW / dbias partials of each (batch, row block) of
        // ConvBwdGroups stretches of ConvBwdSpan steps; conv1d_bwd_dw_sum_f32 adds them in order. dz is never stored.
        int rowBlocks = (s.L + ConvBwdGroups * ConvBwdSpan - 1) / (ConvBwdGroups * ConvBwdSpan);
        int partials = checked(s.B * rowBlocks);
        long tiles = (s.C + ConvBwdChannels - 1) / ConvBwdChannels;
        if (partials == 0)
        {
            Fill(0, dWeight);
            if (dBias is not null) Fill(0, dBias);
            return;
        }
        using var part = Tensor.Empty([partials, s.K + 1, s.C], DType.Float32, x.Device);
        var a = new KernelArgs(stackalloc byte[160], stackalloc nint[16]);
        AddStrided(ref a, x, 2);
        a.Add(Ptr(weight));
        a.Add(PtrOrNull(bias));
        a.Add(Ptr(dOutput));
        AddStrided(ref a, dX, 2);
        a.Add(Ptr(part));
        a.Add(s.L);
        a.Add(s.C);
        a.Add(ConvBwdSpan);
        Launch(Function("conv1d.cu", ConvKernel("bwd", silu, s.K)), checked((uint)(partials * tiles)), ConvBwdChannels * ConvBwdGroups, 0, a);
        var sum = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        sum.Add(Ptr(part));
        sum.Add(Ptr(dWeight));
        sum.Add(PtrOrNull(dBias));
        AddDims(ref sum, s.C, s.K, partials);
        LaunchElementwise(Function("conv1d.cu", "conv1d_bwd_dw_sum_f32"), (long)(s.K + 1) * s.C, sum);
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
        CheckConvTaps(op, k);
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
        args.Add(k % 4 == 0 && Ptr(convState) % 16 == 0 && Ptr(weight) % 16 == 0 ? 1 : 0);   // windows as float4s
        LaunchElementwise(Function("conv1d.cu", "conv1d_step_k" + k + "_f32"), n, args);
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
        LaunchSsmStep(s.B, s.H, s.G, s.P, s.N, state, x, dt, dtBias, a, b, c, d, y, z: null);
    }

    /// <summary>
    /// ssm_step.cu's launch (the plan: <see cref="SsmStepPlan"/>): ssm_step_f32 writing y (B, H, P), or, given z (B, ≥ H·P)
    /// with unit last stride, ssm_step_gated_f32 writing g = y·silu(z) into y as (B, H·P) (MambaDecodeLayer's four-kernel
    /// path). x (B, H, P), b and c (B, G, N) and dt (B, H) are views with unit last stride.
    /// </summary>
    private void LaunchSsmStep(int batch, int h, int g, int p, int n, Tensor state, Tensor x, Tensor dt, Tensor? dtBias, Tensor a, Tensor b,
        Tensor c, Tensor? d, Tensor y, Tensor? z)
    {
        var args = new KernelArgs(stackalloc byte[256], stackalloc nint[26]);
        args.Add(Ptr(state));
        AddStrided(ref args, x, 2);
        AddStrided(ref args, dt, 1);
        args.Add(PtrOrNull(dtBias));
        args.Add(Ptr(a));
        AddStrided(ref args, b, 2);
        AddStrided(ref args, c, 2);
        args.Add(PtrOrNull(d));
        if (z is not null) AddStrided(ref args, z, 1);
        args.Add(Ptr(y));
        AddDims(ref args, batch, h, g, p, n);
        var (threads, pPerWarp) = SsmStepPlanOverride ?? SsmStepPlan((long)batch * h, p, _backend.Context.MultiprocessorCount);
        args.Add(pPerWarp);
        long rowsPerBlock = (long)(threads / 32) * pPerWarp;
        long pBlocks = (p + rowsPerBlock - 1) / rowsPerBlock;
        Launch(Function("ssm_step.cu", z is null ? "ssm_step_f32" : "ssm_step_gated_f32"), checked((uint)((long)batch * h * pBlocks)), (uint)threads,
            0, args);
    }

    /// <summary>
    /// ssm_step_f32's launch for <paramref name="pairs"/> (batch, head) pairs of <paramref name="p"/> rows: block size
    /// and rows per warp. A block takes a whole head (each warp ⌈P/8⌉ rows, SSM_STEP_GROUP of them in flight at a time)
    /// while that gives at least one block per SM; with fewer pairs the slices halve until it does (batch-1 decode: 48
    /// pairs of 64 rows → 192 blocks of 16 rows, two rows in flight per warp). The bits do not depend on the plan.
    /// </summary>
    internal static (int Threads, int PPerWarp) SsmStepPlan(long pairs, int p, int multiprocessors)
    {
        const int warps = SsmStepThreads / 32;
        int perWarp = Math.Max(1, (p + warps - 1) / warps);
        while (perWarp > 1 && pairs * ((p + (long)warps * perWarp - 1) / ((long)warps * perWarp)) < multiprocessors) perWarp = (perWarp + 1) / 2;
        return (SsmStepThreads, perWarp);
    }

    /// <summary>Forces ssm_step_f32's (threads, rows per warp) in place of <see cref="SsmStepPlan"/>: for timing sweeps (Aim.Cuda.Check's
    /// DecodePerf). Threads a multiple of 32 up to 256.</summary>
    internal (int Threads, int PPerWarp)? SsmStepPlanOverride { get; set; }

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

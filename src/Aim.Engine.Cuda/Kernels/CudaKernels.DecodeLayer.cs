// MambaDecodeLayer (IKernels.DecodeLayer.cs) on CUDA. By default the composition DecodeLayerChecks.Compose over this
// backend's ops, which launches six kernels: ModulatedAddRmsNorm (mod_add_rms_norm_f32), in_proj through Gemm
// (skinny_gemm_bf16), ConvSsmStep as CausalConv1dStep (conv1d_step_f32) + SsmStep (ssm_step_f32), and
// GatedRmsNormMatMul as GatedRmsNorm (rms_norm_f32, reading z in place) + out_proj through Gemm (skinny_gemm_bf16).
// With PersistentDecodeLayer on (or AIM_PERSISTENT_DECODE=1), bf16 weights, 1-8 rows and rows that fit in shared
// memory: one cooperative launch of decode_layer.cu's mamba_decode_layer_bf16 (three phases, two grid barriers; the
// kernel file says how it matches the six kernels). Opt-in until a GPU session has timed it against the six kernels
// (Aim.Cuda.Check --decode-perf) and checked it in a decode.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int DecodeLayerThreads = 256;     // DL_WARPS · 32 in decode_layer.cu
    private const int DecodeLayerMaxRows = 8;
    private const int DecodeLayerSharedHead = 160;  // DL_SHARED_HEAD floats: skinny_gemv's partial sums + reduction slots
    private const int DecodeLayerBarrierBytes = 64;
    private const int MaxDynamicSharedBytes = 48 << 10; // a block's shared memory without the opt-in attribute

    private static readonly bool PersistentDecodeFromEnvironment = Environment.GetEnvironmentVariable("AIM_PERSISTENT_DECODE") == "1";

    // decode_layer.cu's grid barrier words (count, generation): zeroed once, left at zero count by every barrier.
    private ulong _decodeLayerBarrier;

    /// <summary>
    /// Whether MambaDecodeLayer runs as one persistent cooperative kernel where it applies (bf16 weights, at most 8
    /// rows, rows fitting in shared memory) instead of the six decode kernels. Off by default; the environment
    /// variable AIM_PERSISTENT_DECODE=1 (read once per process) turns it on for every backend.
    /// </summary>
    public bool PersistentDecodeLayer { get; set; } = PersistentDecodeFromEnvironment;

    /// <inheritdoc />
    public void MambaDecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps, Tensor scalePlusOne,
        Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState, Tensor dtBias, Tensor a, Tensor? d,
        Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        const string op = nameof(MambaDecodeLayer);
        OnDeviceAll(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias, ssmState, dtBias, a, d,
            gatedNormWeight, outProj, y, residualOut);
        var s = DecodeLayerChecks.Check(op, hidden, gate, residual, normWeight, scalePlusOne, shift, inProj, convState, convWeight, convBias,
            ssmState, dtBias, a, d, gatedNormWeight, groupSize, outProj, y, residualOut);
        F32(op, hidden);
        if (!PersistentDecodeLayer || !TryPersistentDecodeLayer(op, s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj,
                convState, convWeight, convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, groupSize, outProj, y, residualOut))
            DecodeLayerChecks.Compose(this, s, hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, inProj, convState, convWeight,
                convBias, ssmState, dtBias, a, d, gatedNormWeight, gatedNormEps, groupSize, outProj, y, residualOut);
    }

    private bool TryPersistentDecodeLayer(string op, DecodeLayerChecks.Dims s, Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight,
        double normEps, Tensor scalePlusOne, Tensor shift, Tensor inProj, Tensor convState, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dtBias, Tensor a, Tensor? d, Tensor gatedNormWeight, double gatedNormEps, int groupSize, Tensor outProj, Tensor y, Tensor residualOut)
    {
        if (inProj.DType != DType.BFloat16 || outProj.DType != DType.BFloat16 || s.R < 1 || s.R > DecodeLayerMaxRows || s.D == 0 || s.N == 0)
            return false;
        if (residual is not null && residualOut.DataPointer == residual.DataPointer) return false; // in place: block 0 would race the readers
        // Same per-warp rows as SsmStep, and the separate kernels' column splits and reduction widths (same results).
        int warps = DecodeLayerThreads / 32;
        int pPerWarp = (long)s.R * s.H >= 2L * _backend.Context.MultiprocessorCount ? (s.P + warps - 1) / warps : 1;
        long rowFloats = Math.Max((long)s.R * Math.Max(s.D, s.E), 2L * s.N + (long)warps * pPerWarp);
        long shared = (DecodeLayerSharedHead + rowFloats) * sizeof(float);
        if (shared > MaxDynamicSharedBytes) return false;
        int dp = s.InProjDim;
        int splitIn = SkinnySplit(dp, s.D), splitOut = SkinnySplit(s.D, s.E);
        bool vecIn = s.D % 8 == 0 && Ptr(inProj) % 16 == 0;
        bool vecOut = s.E % 8 == 0 && Ptr(outProj) % 16 == 0;
        var f = Function("decode_layer.cu", "mamba_decode_layer_bf16");
        int resident = MaxResidentBlocks(f, DecodeLayerThreads, (int)shared);
        if (resident < 1) return false;
        int pBlocks = (s.P + warps * pPerWarp - 1) / (warps * pPerWarp);
        long work = Math.Max(Math.Max((dp + SkinnyWarps / splitIn - 1) / (SkinnyWarps / splitIn), (long)s.R * s.H * pBlocks),
            (s.D + SkinnyWarps / splitOut - 1) / (SkinnyWarps / splitOut));
        uint grid = (uint)Math.Max(1, Math.Min(resident, work));
        ulong barrier = DecodeLayerBarrier(op);
        using var zx = TensorScope.Detach(Tensor.Empty([s.R, dp], DType.Float32, hidden.Device));   // (R, E + C + H)
        using var ys = TensorScope.Detach(Tensor.Empty([s.R, s.E], DType.Float32, hidden.Device));  // (R, E)
        bool nvec = s.E % 4 == 0 && dp % 4 == 0 && Ptr(zx) % 16 == 0 && Ptr(ys) % 16 == 0;
        var args = new KernelArgs(stackalloc byte[512], stackalloc nint[48]);
        args.Add(Ptr(hidden));
        args.Add(PtrOrNull(gate));
        args.Add(PtrOrNull(residual));
        args.Add(Ptr(normWeight));
        args.Add((float)normEps);
        args.Add(Ptr(scalePlusOne));
        args.Add(Ptr(shift));
        args.Add((int)RowThreads(s.D));           // mod_add_rms_norm_f32's threads per row: its reduction order
        args.Add(Ptr(inProj));
        args.Add(Ptr(convState));
        args.Add(Ptr(convWeight));
        args.Add(PtrOrNull(convBias));
        args.Add(Ptr(ssmState));
        args.Add(Ptr(dtBias));
        args.Add(Ptr(a));
        args.Add(PtrOrNull(d));
        args.Add(Ptr(gatedNormWeight));
        args.Add((float)gatedNormEps);
        args.Add(groupSize);
        args.Add((int)RowThreads(groupSize));     // rms_norm's threads per segment, as GatedRmsNorm launches it
        args.Add(Ptr(outProj));
        args.Add(Ptr(y));
        args.Add(Ptr(residualOut));
        args.Add(Ptr(zx));
        args.Add(Ptr(ys));
        args.Add(barrier);
        args.Add(s.R);
        args.Add(s.D);
        args.Add(s.H);
        args.Add(s.G);
        args.Add(s.P);
        args.Add(s.N);
        args.Add(s.K);
        args.Add(pPerWarp);
        args.Add(vecIn ? 1 : 0);
        args.Add(splitIn);
        args.Add(vecOut ? 1 : 0);
        args.Add(splitOut);
        args.Add(nvec ? 1 : 0);
        LaunchCooperative(f, grid, DecodeLayerThreads, (uint)shared, args);
        return true;
    }

    /// <summary>
    /// The zeroed barrier words of mamba_decode_layer_bf16, allocated (and zeroed in stream order) outside graph capture
    /// only (a block taken during a capture would belong to that graph's pool): the decoder's eager first step allocates them.
    /// </summary>
    private ulong DecodeLayerBarrier(string op)
    {
        lock (_lock)
        {
            if (_decodeLayerBarrier != 0) return _decodeLayerBarrier;
            if (_backend.IsCapturing)
                throw new InvalidOperationException($"{op}: its grid-barrier words must be allocated before a CUDA graph capture; run one eager step first");
            ulong p = _backend.Allocator.Allocate(DecodeLayerBarrierBytes);
            _backend.Context.MakeCurrent();
            Check(cuMemsetD8Async(p, 0, DecodeLayerBarrierBytes, _backend.Stream));
            _decodeLayerBarrier = p;
            return p;
        }
    }

    /// <summary>Frees the barrier words (called from <see cref="Dispose"/> under the lock).</summary>
    private void FreeDecodeLayerBarrier()
    {
        if (_decodeLayerBarrier != 0) _backend.Allocator.Free(_decodeLayerBarrier, DecodeLayerBarrierBytes);
        _decodeLayerBarrier = 0;
    }
}

// The fused decode-step kernels (IKernels.DecodeStep.cs) on CUDA, float32: ConvSsmStep in decode_step.cu (one
// launch in place of conv1d_step_f32 + ssm_step_f32; the kernel file says how the conv-state update stays race-free).
// Formulas: aim-architecture.md §3.6, the definitions of ReferenceKernels.DecodeStep.cs.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int ConvSsmThreads = 256; // CSS_WARPS · 32 in decode_step.cu
    private const int ConvSsmMinCounters = 4096;
    private const int MaxDynamicSharedBytes = 48 << 10;

    // The (row, group) arrival counters of conv_ssm_step_f32: zero between launches (each launch resets what it uses).
    private ulong _convSsmCounters;
    private long _convSsmCounterBytes;
    // Outgrown counter buffers: kept until Dispose, since a recorded graph may still launch with one of them.
    private readonly List<(ulong Pointer, long Bytes)> _retiredConvSsmCounters = [];

    /// <inheritdoc />
    public void ConvSsmStep(Tensor convState, Tensor xbc, Tensor convWeight, Tensor? convBias, Tensor ssmState,
        Tensor dt, Tensor dtBias, Tensor a, Tensor? d, Tensor y)
    {
        const string op = nameof(ConvSsmStep);
        OnDeviceAll(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d, y);
        var s = DecodeStepChecks.ConvSsm(op, convState, xbc, convWeight, convBias, ssmState, dt, dtBias, a, d);
        F32(op, xbc);
        Out(op, "y", y, s.B, s.H, s.P);
        if (s.B == 0 || s.H == 0 || s.P == 0) return;
        // Rows of P per warp as in SsmStep: 1 while (batch, head) pairs are few, else all of a warp's share.
        int warps = ConvSsmThreads / 32;
        int pPerWarp = (long)s.B * s.H >= 2L * _backend.Context.MultiprocessorCount ? (s.P + warps - 1) / warps : 1;
        long rowsPerBlock = (long)warps * pPerWarp;
        long pBlocks = (s.P + rowsPerBlock - 1) / rowsPerBlock;
        long shared = (2L * s.N + rowsPerBlock) * sizeof(float);
        if (shared > MaxDynamicSharedBytes)
            throw new NotSupportedException($"{op}: N={s.N}, P={s.P} need {shared} bytes of shared memory per block, above {MaxDynamicSharedBytes}");
        ulong counters = ConvSsmCounters(op, (long)s.B * s.G);
        var args = new KernelArgs(stackalloc byte[256], stackalloc nint[24]);
        args.Add(Ptr(convState));
        args.Add(Ptr(xbc));
        args.Add(xbc.Strides[0]);
        args.Add(Ptr(convWeight));
        args.Add(PtrOrNull(convBias));
        args.Add(Ptr(ssmState));
        args.Add(Ptr(dt));
        args.Add(dt.Strides[0]);
        args.Add(Ptr(dtBias));
        args.Add(Ptr(a));
        args.Add(PtrOrNull(d));
        args.Add(Ptr(y));
        args.Add(counters);
        AddDims(ref args, s.B, s.H, s.G, s.P, s.N, s.K);
        args.Add(pPerWarp);
        Launch(Function("decode_step.cu", "conv_ssm_step_f32"), checked((uint)((long)s.B * s.H * pBlocks)), ConvSsmThreads, (uint)shared, args);
    }

    /// <summary>
    /// The zeroed counter buffer for <paramref name="count"/> (row, group) pairs. It is allocated (and zeroed in stream
    /// order) outside graph capture only: a block taken during a capture would belong to that graph's pool. The decoder
    /// runs one eager step before recording, which allocates it.
    /// </summary>
    private ulong ConvSsmCounters(string op, long count)
    {
        long bytes = Math.Max(count, ConvSsmMinCounters) * sizeof(int);
        lock (_lock)
        {
            if (_convSsmCounterBytes >= count * sizeof(int)) return _convSsmCounters;
            if (_backend.IsCapturing)
                throw new InvalidOperationException($"{op}: its arrival counters ({count} ints) must be allocated before a CUDA graph capture; run one eager step first");
            if (_convSsmCounters != 0) _retiredConvSsmCounters.Add((_convSsmCounters, _convSsmCounterBytes));
            _convSsmCounters = 0;
            _convSsmCounterBytes = 0;
            ulong p = _backend.Allocator.Allocate(bytes);
            _backend.Context.MakeCurrent();
            Check(cuMemsetD8Async(p, 0, (nuint)bytes, _backend.Stream));
            _convSsmCounters = p;
            _convSsmCounterBytes = bytes;
            return p;
        }
    }

    /// <summary>Frees the counter buffers (called from <see cref="Dispose"/> under the lock).</summary>
    private void FreeConvSsmCounters()
    {
        foreach (var (pointer, size) in _retiredConvSsmCounters) _backend.Allocator.Free(pointer, size);
        _retiredConvSsmCounters.Clear();
        if (_convSsmCounters != 0) _backend.Allocator.Free(_convSsmCounters, _convSsmCounterBytes);
        _convSsmCounters = 0;
        _convSsmCounterBytes = 0;
    }
}

// SampleTokens (IKernels.Sample.cs) on CUDA: one block of SampleThreads threads per image, kernel in sample.cu (how
// it works, and how it can differ from the host, is described there). One block per image even at batch 1: the steps
// depend on each other (max, four radix digits, the top-p cut, the draw), and spreading an image over blocks would put
// a grid-wide barrier (~1.9 µs on the H200, NOTES.md) where a block barrier costs tens of nanoseconds. The wrapper checks shapes, dtypes and
// settings on the host and never reads device memory, so a decode step that calls it has no host synchronisation:
// steps out of [0, T) and all -inf/NaN rows, which the host kernels reject, are handled on the device as sample.cu
// documents (token 0). Shared memory: a tile of min(2^ceil(log2 V), SampleTileCap) 64-bit keys (at most 32 KiB),
// then, where the device's per-block limit leaves room (V ≤ ~48k on an H200), the guided row (V floats: 64 KiB at
// AiM's 16384; the kernel opts in above the default 48 KiB), so only pass 1 reads the logits. When top-p is on and V
// rounded up to a power of two exceeds the tile, a global scratch of B · 2^ceil(log2 V) keys is taken from the
// caching allocator for the call (no driver call or sync in the steady state) and returned in stream order; the
// kernel uses it only when more than SampleTileCap entries survive top-k.
using System.Numerics;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int SampleThreads = 1024;
    private const int SampleTileCap = 4096; // 64-bit keys in the shared tile: 32 KiB

    /// <inheritdoc />
    public void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings)
    {
        const string op = nameof(SampleTokens);
        OnDevice(op, logits, steps, tokens, positions, history);
        var (b, v, t) = SampleChecks.Validate(logits, steps, tokens, positions, history, settings);
        if (v > 1 << 30) throw new NotSupportedException($"{op}: a vocabulary of {v} exceeds the CUDA kernel's 2^30");
        int span = (int)BitOperations.RoundUpToPowerOf2((uint)v);
        int tileCap = Math.Min(span, SampleTileCap);
        using var scratch = settings.TopP < 1 && span > tileCap
            ? TensorScope.Detach(Tensor.Empty([b, span], DType.Int64, logits.Device))
            : null;
        var args = new KernelArgs(stackalloc byte[256], stackalloc nint[24]);
        args.Add(Ptr(logits));
        args.Add(Ptr(steps));
        args.Add(Ptr(tokens));
        args.Add(Ptr(positions));
        args.Add(Ptr(history));
        args.Add(b);
        args.Add(v);
        args.Add(t);
        args.Add((float)settings.CfgScale);
        args.Add(settings.Temperature);
        args.Add(settings.TopK);
        args.Add(settings.TopP);
        args.Add(settings.Seed);
        args.Add(settings.CounterBase);
        args.Add(settings.PositionShift);
        args.Add(tileCap);
        args.Add(scratch is null ? 0UL : Ptr(scratch));
        args.Add(scratch is null ? 0L : (long)span);
        nint function = Function("sample.cu", "sample_tokens");
        int sharedBytes = tileCap * sizeof(ulong);
        bool cache = SampleGuidedCache && sharedBytes + (long)v * sizeof(float) <= DynamicSharedLimit(function);
        if (cache) sharedBytes += v * sizeof(float);
        args.Add(cache ? 1 : 0);
        AllowDynamicShared(function, sharedBytes);
        Launch(function, (uint)b, (uint)(SampleThreadsOverride ?? SampleThreads), (uint)sharedBytes, args);
    }

    /// <summary>
    /// Whether sample_tokens keeps the guided row in shared memory where it fits (default); false recomputes it in every
    /// pass, for comparisons (Aim.Cuda.Check --decode-perf).
    /// </summary>
    internal bool SampleGuidedCache { get; set; } = true;

    /// <summary>Forces sample_tokens' block size (a multiple of 32, at most 1024) for comparisons (Aim.Cuda.Check --decode-perf).</summary>
    internal int? SampleThreadsOverride { get; set; }
}

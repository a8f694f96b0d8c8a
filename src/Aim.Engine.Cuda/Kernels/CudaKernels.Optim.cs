// The optimizer family (IKernels.Optim.cs) on CUDA: AdamWStep, EmaUpdate and SquaredNormPartials for float32 (kernels in optim.cu;
// scalars as in CpuKernels.Optim.cs), their list versions (one launch per group of up to 48 / 128 tensors, described by a
// table passed by value whose layout mirrors optim.cu's AdamWTable / NormTable) and GradClipScale. Other dtypes throw
// NotSupportedException naming the op.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    /// <inheritdoc />
    public void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v)
    {
        OnDevice(nameof(AdamWStep), grad, param, m, v);
        OptimChecks.AdamW(grad, hyper, param, m, v);
        if (param.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(AdamWStep), Name, param.DType);
        var e = AdamWScalars(hyper);
        var args = new KernelArgs(stackalloc byte[160], stackalloc nint[14]);
        args.Add(Ptr(grad));
        args.Add(Ptr(param));
        args.Add(Ptr(m));
        args.Add(Ptr(v));
        args.Add(e.Scale);
        args.Add(e.B1);
        args.Add(e.C1);
        args.Add(e.B2);
        args.Add(e.C2);
        args.Add(e.Eps);
        args.Add(e.Decay);
        args.Add(e.StepSize);
        args.Add(e.InvSqrtBc2);
        args.Add(param.Count);
        LaunchElementwise(Function("optim.cu", "adamw_f32"), param.Count, args);
    }

    /// <inheritdoc />
    public void EmaUpdate(Tensor source, double decay, Tensor ema)
    {
        OnDevice(nameof(EmaUpdate), source, ema);
        OptimChecks.Ema(source, decay, ema);
        if (ema.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(EmaUpdate), Name, ema.DType);
        var args = new KernelArgs(stackalloc byte[48], stackalloc nint[4]);
        args.Add(Ptr(source));
        args.Add(Ptr(ema));
        args.Add((float)(1 - decay));
        args.Add(ema.Count);
        LaunchElementwise(Function("optim.cu", "ema_f32"), ema.Count, args);
    }

    /// <inheritdoc />
    public void SquaredNormPartials(Tensor x, Tensor output)
    {
        OnDevice(nameof(SquaredNormPartials), x, output);
        OptimChecks.SquaredNormPartials(x, output);
        if (x.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(SquaredNormPartials), Name, x.DType);
        long k = output.Count;
        var args = new KernelArgs(stackalloc byte[48], stackalloc nint[5]);
        args.Add(Ptr(x));
        args.Add(Ptr(output));
        args.Add(x.Count);
        args.Add(OptimChecks.SquaredNormChunk(x.Count, k));
        args.Add(k);
        uint grid = (uint)Math.Min(k, (long)_backend.Context.MultiprocessorCount * BlocksPerMultiprocessor);
        Launch(Function("optim.cu", "squared_norm_partials_f32"), grid, SquaredNormThreads, 0, args);
    }

    /// <summary>Threads per block of squared_norm_partials_f32 (a multiple of 32 for block_sum).</summary>
    private const uint SquaredNormThreads = 256;

    /// <inheritdoc />
    public void AdamWStepMany(IReadOnlyList<Tensor> grads, Tensor? gradScale, IReadOnlyList<AdamWHyper> hypers,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> ms, IReadOnlyList<Tensor> vs)
    {
        const string op = nameof(AdamWStepMany);
        OptimChecks.AdamWMany(grads, gradScale, hypers, parameters, ms, vs);
        if (parameters[0].DType != DType.Float32) throw KernelChecks.Unsupported(op, Name, parameters[0].DType);
        for (int i = 0; i < parameters.Count; i++) OnDevice(op, grads[i], parameters[i], ms[i], vs[i]);
        if (gradScale is not null) OnDevice(op, gradScale);
        if (sizeof(AdamWTable) != 4040) throw new InvalidOperationException($"{op}: AdamWTable is {sizeof(AdamWTable)} bytes, optim.cu expects 4040");
        var function = Function("optim.cu", "adamw_many_f32");
        Span<byte> values = stackalloc byte[4096 + 64];
        Span<nint> pointers = stackalloc nint[2];
        for (int first = 0; first < parameters.Count; first += AdamWPerLaunch)
        {
            int count = Math.Min(AdamWPerLaunch, parameters.Count - first);
            var table = new AdamWTable { Count = count };
            long blocks = 0;
            for (int t = 0; t < count; t++)
            {
                var p = parameters[first + t];
                table.BlockStart[t] = (int)blocks;
                table.Entries[t] = AdamWScalars(hypers[first + t]) with
                {
                    G = Ptr(grads[first + t]), P = Ptr(p), M = Ptr(ms[first + t]), V = Ptr(vs[first + t]), N = p.Count,
                };
                blocks += (p.Count + AdamWTile - 1) / AdamWTile;
                if (blocks > int.MaxValue) throw new ArgumentException($"{op}: {blocks} blocks in one launch exceed the grid limit");
            }
            table.BlockStart[count] = (int)blocks;
            if (blocks == 0) continue;
            var args = new KernelArgs(values, pointers);
            args.Add(table);
            args.Add(gradScale is null ? 0UL : Ptr(gradScale));
            Launch(function, (uint)blocks, AdamWManyThreads, 0, args);
        }
    }

    /// <inheritdoc />
    public void SquaredNormPartialsMany(IReadOnlyList<Tensor> xs, IReadOnlyList<int> counts, Tensor output)
    {
        const string op = nameof(SquaredNormPartialsMany);
        OptimChecks.SquaredNormPartialsMany(xs, counts, output);
        if (output.DType != DType.Float32) throw KernelChecks.Unsupported(op, Name, output.DType);
        OnDevice(op, output);
        foreach (var x in xs) OnDevice(op, x);
        if (sizeof(NormTable) != 2568) throw new InvalidOperationException($"{op}: NormTable is {sizeof(NormTable)} bytes, optim.cu expects 2568");
        var function = Function("optim.cu", "squared_norm_partials_many_f32");
        ulong outAt = Ptr(output);
        Span<byte> values = stackalloc byte[4096];
        Span<nint> pointers = stackalloc nint[2];
        for (int first = 0; first < xs.Count; first += NormPerLaunch)
        {
            int count = Math.Min(NormPerLaunch, xs.Count - first);
            var table = new NormTable { Count = count };
            long blocks = 0;
            for (int t = 0; t < count; t++)
            {
                table.X[t] = Ptr(xs[first + t]);
                table.N[t] = xs[first + t].Count;
                table.Start[t] = (int)blocks;
                blocks += counts[first + t];
                if (blocks > int.MaxValue) throw new ArgumentException($"{op}: {blocks} partials in one launch exceed the grid limit");
            }
            table.Start[count] = (int)blocks;
            var args = new KernelArgs(values, pointers);
            args.Add(table);
            args.Add(outAt);
            Launch(function, (uint)blocks, SquaredNormThreads, 0, args);
            outAt += (ulong)blocks * sizeof(float);
        }
    }

    /// <inheritdoc />
    public void GradClipScale(Tensor sumOfSquares, double gradScale, double maxNorm, Tensor output)
    {
        OnDevice(nameof(GradClipScale), sumOfSquares, output);
        OptimChecks.GradClipScale(sumOfSquares, gradScale, output);
        if (output.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(GradClipScale), Name, output.DType);
        var args = new KernelArgs(stackalloc byte[48], stackalloc nint[4]);
        args.Add(Ptr(sumOfSquares));
        args.Add(Ptr(output));
        args.Add(gradScale);
        args.Add(maxNorm);
        Launch(Function("optim.cu", "grad_clip_scale_f32"), 1, 1, 0, args);
    }

    /// <summary>Tensors per adamw_many_f32 launch (OPTIM_MANY_ADAMW), elements per block (OPTIM_ADAMW_TILE), threads per block.</summary>
    private const int AdamWPerLaunch = 48, AdamWTile = 4096;
    private const uint AdamWManyThreads = 256;

    /// <summary>Tensors per squared_norm_partials_many_f32 launch (OPTIM_MANY_NORM).</summary>
    private const int NormPerLaunch = 128;

    /// <summary>
    /// The float32 scalars of one AdamW update (adamw_f32's arguments, an AdamWEntry's fields), rounded once from the
    /// double hyper-parameters: one place, so the single and the list kernel see the same bits.
    /// </summary>
    private static AdamWEntry AdamWScalars(AdamWHyper h) => new()
    {
        Scale = (float)h.GradScale, B1 = (float)h.Beta1, C1 = (float)(1 - h.Beta1), B2 = (float)h.Beta2, C2 = (float)(1 - h.Beta2),
        Eps = (float)h.Eps, Decay = (float)(1 - h.Lr * h.WeightDecay), StepSize = (float)(h.Lr / h.BiasCorrection1),
        InvSqrtBc2 = (float)(1 / Math.Sqrt(h.BiasCorrection2)),
    };

    /// <summary>optim.cu's AdamWEntry: one tensor's buffers, element count and float32 scalars (80 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct AdamWEntry
    {
        public ulong G, P, M, V;
        public long N;
        public float Scale, B1, C1, B2, C2, Eps, Decay, StepSize, InvSqrtBc2;
    }

    [InlineArray(AdamWPerLaunch)]
    private struct AdamWEntries
    {
        private AdamWEntry _first;
    }

    [InlineArray(AdamWPerLaunch + 1)]
    private struct AdamWStarts
    {
        private int _first;
    }

    /// <summary>optim.cu's AdamWTable (4040 bytes, a kernel parameter).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct AdamWTable
    {
        public AdamWEntries Entries;
        public AdamWStarts BlockStart;
        public int Count;
    }

    [InlineArray(NormPerLaunch)]
    private struct NormPointers
    {
        private ulong _first;
    }

    [InlineArray(NormPerLaunch)]
    private struct NormCounts
    {
        private long _first;
    }

    [InlineArray(NormPerLaunch + 1)]
    private struct NormStarts
    {
        private int _first;
    }

    /// <summary>optim.cu's NormTable (2568 bytes, a kernel parameter).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct NormTable
    {
        public NormPointers X;
        public NormCounts N;
        public NormStarts Start;
        public int Count;
    }
}

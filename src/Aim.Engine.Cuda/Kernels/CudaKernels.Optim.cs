// The optimizer family (IKernels.Optim.cs) on CUDA: AdamWStep, EmaUpdate and SquaredNormPartials for float32 (kernels in optim.cu;
// scalars as in CpuKernels.Optim.cs). Other dtypes throw NotSupportedException naming the op.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed partial class CudaKernels
{
    /// <inheritdoc />
    public void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v)
    {
        OnDevice(nameof(AdamWStep), grad, param, m, v);
        OptimChecks.AdamW(grad, hyper, param, m, v);
        if (param.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(AdamWStep), Name, param.DType);
        var args = new KernelArgs(stackalloc byte[160], stackalloc nint[14]);
        args.Add(Ptr(grad));
        args.Add(Ptr(param));
        args.Add(Ptr(m));
        args.Add(Ptr(v));
        args.Add((float)hyper.GradScale);
        args.Add((float)hyper.Beta1);
        args.Add((float)(1 - hyper.Beta1));
        args.Add((float)hyper.Beta2);
        args.Add((float)(1 - hyper.Beta2));
        args.Add((float)hyper.Eps);
        args.Add((float)(1 - hyper.Lr * hyper.WeightDecay));
        args.Add((float)(hyper.Lr / hyper.BiasCorrection1));
        args.Add((float)(1 / Math.Sqrt(hyper.BiasCorrection2)));
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
}

// The row modulation family of the contract (IKernels.Modulate.cs) on CUDA, float32: Modulate and ModulateBackward.
// Formulas are the reference kernels' (ReferenceKernels.Modulate.cs); kernels and their layout in modulate.cu.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int ModulateMaxCols = 32;                // channels per backward block (a warp's width)
    private const int ModulateMinBlocksPerMultiprocessor = 4; // fewer (image, channel tile) blocks: split the positions

    /// <inheritdoc />
    public void Modulate(Tensor x, Tensor scale, Tensor? shift, Tensor output)
    {
        OnDeviceAll(nameof(Modulate), x, scale, shift, output);
        ModulateChecks.Forward(x, scale, shift, output);
        if (x.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(Modulate), Name, x.DType);
        long n = x.Count;
        if (n == 0) return;
        // Four channels a thread (modulate4_f32) where rows of D split into aligned float4s: same values, a quarter of the
        // memory instructions.
        long d = x.Shape[2];
        bool vec = ModulateFourChannels((int)d, Ptr(x), Ptr(scale), PtrOrNull(shift), Ptr(output));
        long items = vec ? n / 4 : n;
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[7]);
        args.Add(Ptr(x));
        args.Add(Ptr(scale));
        args.Add(PtrOrNull(shift));
        args.Add(Ptr(output));
        args.Add(items);
        args.Add((long)x.Shape[1]);
        args.Add(d);
        LaunchElementwise(Function("modulate.cu", vec ? "modulate4_f32" : "modulate_f32"), items, args);
    }

    /// <inheritdoc />
    public void ModulateBackward(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift)
    {
        OnDeviceAll(nameof(ModulateBackward), x, scale, dOutput, dX, dScale, dShift);
        ModulateChecks.Backward(x, scale, dOutput, dX, dScale, dShift);
        if (x.DType != DType.Float32) throw KernelChecks.Unsupported(nameof(ModulateBackward), Name, x.DType);
        int images = x.Shape[0], l = x.Shape[1], d = x.Shape[2];
        if ((long)images * d == 0) return;
        if (l == 0)
        {
            if (dScale is not null) Fill(0, dScale);
            if (dShift is not null) Fill(0, dShift);
            return;
        }
        var plan = ModulatePlan(images, l, d, _backend.Context.MultiprocessorCount);
        bool sums = dScale is not null || dShift is not null;
        long outputs = (long)images * d;
        using var partial = sums && plan.Splits > 1 ? Tensor.Empty([checked((int)(plan.Splits * 2 * outputs))], DType.Float32, x.Device) : null;
        // Four channels a lane (modulate_backward4_f32) where rows of D split into aligned float4s: the same plan and the same
        // sums bit for bit, a quarter of the threads and of the memory instructions.
        bool vec = ModulateFourChannels(d, Ptr(x), Ptr(scale), Ptr(dOutput), PtrOrNull(dX), PtrOrNull(dScale), PtrOrNull(dShift),
            PtrOrNull(partial));
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[13]);
        args.Add(Ptr(x));
        args.Add(Ptr(scale));
        args.Add(Ptr(dOutput));
        args.Add(PtrOrNull(dX));
        args.Add(PtrOrNull(dScale));
        args.Add(PtrOrNull(dShift));
        args.Add(images);
        args.Add((long)l);
        args.Add(d);
        args.Add(plan.Cols);
        args.Add(plan.ColTiles);
        args.Add(plan.RowsPerSplit);
        args.Add(PtrOrNull(partial));
        Launch(Function("modulate.cu", vec ? "modulate_backward4_f32" : "modulate_backward_f32"),
            checked((uint)(plan.Splits * images * plan.ColTiles)), (uint)ModulateBackwardThreads(plan, vec), 0, args);
        if (partial is null) return;
        var finishArgs = new KernelArgs(stackalloc byte[64], stackalloc nint[5]);
        finishArgs.Add(Ptr(partial));
        finishArgs.Add(plan.Splits);
        finishArgs.Add(outputs);
        finishArgs.Add(PtrOrNull(dScale));
        finishArgs.Add(PtrOrNull(dShift));
        LaunchElementwise(Function("modulate.cu", "modulate_backward_finish_f32"), outputs, finishArgs);
    }

    /// <summary>The launch of modulate_backward_f32 (modulate.cu).</summary>
    /// <param name="Cols">Channels per block (a power of two ≤ 32).</param>
    /// <param name="Rows">Threads per channel of a block (a power of two; Cols · Rows ≤ 256).</param>
    /// <param name="ColTiles">Channel tiles per image: ⌈D / Cols⌉.</param>
    /// <param name="Splits">Chunks of the position index (blocks along it); 1 writes the sums directly.</param>
    /// <param name="RowsPerSplit">Positions per chunk.</param>
    internal readonly record struct ModulateLaunch(int Cols, int Rows, long ColTiles, long Splits, long RowsPerSplit);

    /// <summary>Whether Modulate / ModulateBackward take their four-channel kernels (modulate4_f32,
    /// modulate_backward4_f32): D a multiple of 4 and every present pointer (0 = absent) 16-byte aligned.</summary>
    internal static bool ModulateFourChannels(int d, params ReadOnlySpan<ulong> pointers)
    {
        if (d % 4 != 0) return false;
        foreach (ulong p in pointers)
        {
            if (p % 16 != 0) return false;
        }
        return true;
    }

    /// <summary>Threads per block of the backward: Cols · Rows for modulate_backward_f32, Cols / 4 · Rows (the same rows,
    /// four channels a lane) for modulate_backward4_f32.</summary>
    internal static int ModulateBackwardThreads(ModulateLaunch plan, bool vectorised) =>
        (vectorised ? plan.Cols / 4 : plan.Cols) * plan.Rows;

    // One split when the (image, channel tile) blocks alone give ModulateMinBlocksPerMultiprocessor per multiprocessor
    // (AiM-B training, B = 32, D = 768: 768 blocks on 132 multiprocessors, one launch, 32 positions per thread);
    // otherwise sum_to's column plan (SumToColumnPlan) over the images' channel tiles. modulate_backward_f32 has
    // sum_to_cols's block shape (256 threads, MODULATE_THREADS = SUM_TO_THREADS). The constant was not swept.
    // modulate_backward4_f32 runs this same plan (Cols / 4 lanes × Rows a block), which keeps its sums bit-identical.
    internal static ModulateLaunch ModulatePlan(int images, int l, int d, int multiprocessors)
    {
        int cols = (int)Math.Min(ModulateMaxCols, PowerOfTwoAtLeast(d));
        long colTiles = (d + cols - 1) / cols, blocks = images * colTiles;
        var plan = blocks >= (long)multiprocessors * ModulateMinBlocksPerMultiprocessor
            ? new SumToPlan((int)Math.Min(SumToThreads / cols, PowerOfTwoAtLeast(l)), blocks, 1, Math.Max(l, 1))
            : SumToColumnPlan(blocks * cols, l, cols, multiprocessors);
        return new ModulateLaunch(cols, plan.Rows, colTiles, plan.Splits, plan.RowsPerSplit);
    }
}

// Fast CPU versions of the Modulate family (IKernels.Modulate.cs) for float32: Vector256 lanes over the channels,
// threads over rows (forward) or over (image, channel block) pairs (backward), chunking that depends only on the
// size. The forward rounds the product, then the sum, like Mul then Add. The backward's row sums accumulate in
// float32 over l = 0, 1, ..., L-1 per channel (the reference accumulates in double). Float64 goes to the reference.
using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Modulate, ModulateBackward (SIMD + threads, float32).
public unsafe partial class CpuKernels
{
    // Channels per backward work item: four Vector256 of sums each for dScale and dShift stay in registers.
    private const int ModulateChannelBlock = 32;

    /// <inheritdoc />
    public override void Modulate(Tensor x, Tensor scale, Tensor? shift, Tensor output)
    {
        ModulateChecks.Forward(x, scale, shift, output);
        if (!Vector256.IsHardwareAccelerated || !IsF32Contiguous(x))
        {
            base.Modulate(x, scale, shift, output);
            return;
        }
        int l = x.Shape[1], d = x.Shape[2];
        float* px = (float*)x.DataPointer, ps = (float*)scale.DataPointer, po = (float*)output.DataPointer;
        float* ph = shift is null ? null : (float*)shift.DataPointer;
        long rows = (long)x.Shape[0] * l;
        CpuParallel.For(rows, Math.Max(CheapGrain / Math.Max(d, 1), 1), (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                float* xr = px + r * d, or = po + r * d;
                long rowOfImage = r / l * d;
                float* sr = ps + rowOfImage, hr = ph is null ? null : ph + rowOfImage;
                int c = 0;
                for (; c + 8 <= d; c += 8)
                {
                    var p = Vector256.Load(xr + c) * Vector256.Load(sr + c);
                    (hr is null ? p : p + Vector256.Load(hr + c)).Store(or + c);
                }
                for (; c < d; c++)
                {
                    float p = xr[c] * sr[c];
                    or[c] = hr is null ? p : p + hr[c];
                }
            }
        });
    }

    /// <inheritdoc />
    public override void ModulateBackward(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift)
    {
        ModulateChecks.Backward(x, scale, dOutput, dX, dScale, dShift);
        if (!Vector256.IsHardwareAccelerated || !IsF32Contiguous(x))
        {
            base.ModulateBackward(x, scale, dOutput, dX, dScale, dShift);
            return;
        }
        int b = x.Shape[0], l = x.Shape[1], d = x.Shape[2];
        float* px = (float*)x.DataPointer, ps = (float*)scale.DataPointer, pg = (float*)dOutput.DataPointer;
        float* pdx = dX is null ? null : (float*)dX.DataPointer;
        float* pds = dScale is null ? null : (float*)dScale.DataPointer;
        float* pdh = dShift is null ? null : (float*)dShift.DataPointer;
        int blocks = (d + ModulateChannelBlock - 1) / ModulateChannelBlock;
        long grain = Math.Max(CheapGrain / Math.Max((long)l * ModulateChannelBlock, 1), 1);
        CpuParallel.For((long)b * blocks, grain, (start, end) =>
        {
            float* sumScale = stackalloc float[ModulateChannelBlock];
            float* sumShift = stackalloc float[ModulateChannelBlock];
            for (long item = start; item < end; item++)
            {
                long image = item / blocks;
                int c0 = (int)(item % blocks) * ModulateChannelBlock, width = Math.Min(ModulateChannelBlock, d - c0);
                int vectorWidth = width & ~7;
                float* sr = ps + image * d + c0;
                new Span<float>(sumScale, ModulateChannelBlock).Clear();
                new Span<float>(sumShift, ModulateChannelBlock).Clear();
                for (int t = 0; t < l; t++)
                {
                    long at = (image * l + t) * d + c0;
                    float* gr = pg + at, xr = px + at;
                    int c = 0;
                    for (; c < vectorWidth; c += 8)
                    {
                        var g = Vector256.Load(gr + c);
                        if (pdx is not null) (g * Vector256.Load(sr + c)).Store(pdx + at + c);
                        (Vector256.Load(sumScale + c) + g * Vector256.Load(xr + c)).Store(sumScale + c);
                        (Vector256.Load(sumShift + c) + g).Store(sumShift + c);
                    }
                    for (; c < width; c++)
                    {
                        float g = gr[c];
                        if (pdx is not null) pdx[at + c] = g * sr[c];
                        sumScale[c] += g * xr[c];
                        sumShift[c] += g;
                    }
                }
                if (pds is not null) new Span<float>(sumScale, width).CopyTo(new Span<float>(pds + image * d + c0, width));
                if (pdh is not null) new Span<float>(sumShift, width).CopyTo(new Span<float>(pdh + image * d + c0, width));
            }
        });
    }
}

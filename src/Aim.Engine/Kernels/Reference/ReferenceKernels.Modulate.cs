using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: Modulate and ModulateBackward (reference versions; contract and formulas in IKernels.Modulate.cs).
// The row sums of the backward accumulate in double over l = 0, 1, ..., L-1.
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void Modulate(Tensor x, Tensor scale, Tensor? shift, Tensor output)
    {
        ModulateChecks.Forward(x, scale, shift, output);
        if (IsDouble(nameof(Modulate), x.DType)) ModulateT<double>(x, scale, shift, output);
        else ModulateT<float>(x, scale, shift, output);
    }

    private static void ModulateT<T>(Tensor x, Tensor scale, Tensor? shift, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int b = x.Shape[0], l = x.Shape[1], d = x.Shape[2];
        T* px = (T*)x.DataPointer, ps = (T*)scale.DataPointer, po = (T*)output.DataPointer;
        T* ph = shift is null ? null : (T*)shift.DataPointer;
        for (int i = 0; i < b; i++)
            for (int t = 0; t < l; t++)
            {
                long row = ((long)i * l + t) * d;
                for (int c = 0; c < d; c++)
                {
                    T p = px[row + c] * ps[(long)i * d + c];     // rounded: Mul
                    po[row + c] = ph is null ? p : p + ph[(long)i * d + c]; // rounded again: Add
                }
            }
    }

    /// <inheritdoc />
    public virtual void ModulateBackward(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift)
    {
        ModulateChecks.Backward(x, scale, dOutput, dX, dScale, dShift);
        if (IsDouble(nameof(ModulateBackward), x.DType)) ModulateBackwardT<double>(x, scale, dOutput, dX, dScale, dShift);
        else ModulateBackwardT<float>(x, scale, dOutput, dX, dScale, dShift);
    }

    private static void ModulateBackwardT<T>(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int b = x.Shape[0], l = x.Shape[1], d = x.Shape[2];
        T* px = (T*)x.DataPointer, ps = (T*)scale.DataPointer, pg = (T*)dOutput.DataPointer;
        T* pdx = dX is null ? null : (T*)dX.DataPointer;
        T* pds = dScale is null ? null : (T*)dScale.DataPointer;
        T* pdh = dShift is null ? null : (T*)dShift.DataPointer;
        for (int i = 0; i < b; i++)
            for (int c = 0; c < d; c++)
            {
                double sumScale = 0, sumShift = 0;
                T s = ps[(long)i * d + c];
                for (int t = 0; t < l; t++)
                {
                    long at = ((long)i * l + t) * d + c;
                    T g = pg[at];
                    if (pdx is not null) pdx[at] = g * s;
                    sumScale += double.CreateTruncating(g) * double.CreateTruncating(px[at]);
                    sumShift += double.CreateTruncating(g);
                }
                if (pds is not null) pds[(long)i * d + c] = T.CreateTruncating(sumScale);
                if (pdh is not null) pdh[(long)i * d + c] = T.CreateTruncating(sumShift);
            }
    }
}

using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the argument checks of the Modulate family (IKernels.Modulate.cs), shared by every backend.
/// <summary>Shape, dtype and layout checks of <see cref="IKernels.Modulate"/> and <see cref="IKernels.ModulateBackward"/>.</summary>
public static class ModulateChecks
{
    /// <summary>Checks the forward: x (B, L, D), scale and shift (B, D), output (B, L, D); contiguous, one dtype.</summary>
    public static void Forward(Tensor x, Tensor scale, Tensor? shift, Tensor output)
    {
        const string op = nameof(IKernels.Modulate);
        Activations(op, "x", x);
        Rows(op, "scale", scale, x);
        if (shift is not null) Rows(op, "shift", shift, x);
        Same(op, "output", output, x);
        KernelChecks.SameDType(op, x, scale, output);
        if (shift is not null) KernelChecks.SameDType(op, x, shift);
    }

    /// <summary>Checks the backward: x and dOutput (B, L, D), scale (B, D), the optional outputs' shapes; contiguous, one dtype.</summary>
    public static void Backward(Tensor x, Tensor scale, Tensor dOutput, Tensor? dX, Tensor? dScale, Tensor? dShift)
    {
        const string op = nameof(IKernels.ModulateBackward);
        Activations(op, "x", x);
        Rows(op, "scale", scale, x);
        Same(op, "dOutput", dOutput, x);
        KernelChecks.SameDType(op, x, scale, dOutput);
        if (dX is not null)
        {
            Same(op, "dX", dX, x);
            KernelChecks.SameDType(op, x, dX);
        }
        if (dScale is not null)
        {
            Rows(op, "dScale", dScale, x);
            KernelChecks.SameDType(op, x, dScale);
        }
        if (dShift is not null)
        {
            Rows(op, "dShift", dShift, x);
            KernelChecks.SameDType(op, x, dShift);
        }
    }

    private static void Activations(string op, string name, Tensor t)
    {
        KernelChecks.Rank(op, name, t, 3);
        KernelChecks.Contiguous(op, name, t);
    }

    private static void Rows(string op, string name, Tensor t, Tensor x)
    {
        KernelChecks.Shape(op, name, t, x.Shape[0], x.Shape[2]);
        KernelChecks.Contiguous(op, name, t);
    }

    private static void Same(string op, string name, Tensor t, Tensor x)
    {
        KernelChecks.Shape(op, name, t, x.Shape);
        KernelChecks.Contiguous(op, name, t);
    }
}

using Aim.Engine.Tensors;

namespace Aim.BackendOps;

/// <summary>Tensor comparisons for parity tests, with the tolerance rule stated in one place.</summary>
public static class Compare
{
    /// <summary>
    /// max |actual − expected| relative to max(1, max |expected|). The fixtures' README measured the original's own
    /// fp32-vs-fp64 noise at ≤ 2.2e-6 on this scale; 1e-4 is ~50× that and far below any real bug.
    /// </summary>
    public static double RelativeMaxError(float[] expected, float[] actual)
    {
        if (expected.Length != actual.Length) return double.PositiveInfinity;
        double maxRef = 1, maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(d)) return double.NaN;
            maxDiff = Math.Max(maxDiff, d);
        }
        return maxDiff / maxRef;
    }

    /// <summary>Throws with a readable message unless shapes match and the relative error is within <paramref name="tolerance"/>.</summary>
    public static double Close(string what, Tensor expected, Tensor actual, double tolerance)
    {
        if (!expected.Shape.SequenceEqual(actual.Shape))
            throw new InvalidOperationException($"{what}: shape {Tensor.ShapeString(actual.Shape)}, expected {Tensor.ShapeString(expected.Shape)}");
        double err = RelativeMaxError(expected.ToFloatArray(), actual.ToFloatArray());
        if (!(err <= tolerance))
            throw new InvalidOperationException($"{what}: relative max error {err:E3} exceeds {tolerance:E1}");
        return err;
    }
}

using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the decode step's ModulatedAddRmsNorm (forward only, no gradient): R rows of 1, 2, 7, 33
// and D of 1, 31, 257, 768 channels, with and without the gate, with no residual, a separate residual, and the
// residual updated in place (residualOut = residual, cloned first so the reference and target runs each get their
// own). Both outputs, normed and the residual sum, are compared.
public static partial class OpCases
{
    /// <summary>How a ModulatedAddRmsNorm case passes the residual.</summary>
    private enum ResidualMode { None, Separate, InPlace }

    /// <summary>ModulatedAddRmsNorm, target vs reference: [normed, residualOut].</summary>
    public static IEnumerable<OpCase> ModulatedAddRmsNormCases()
    {
        foreach (int r in new[] { 1, 2, 7, 33 })
            foreach (int d in new[] { 1, 31, 257, 768 })
                foreach (bool gated in new[] { true, false })
                    foreach (var mode in new[] { ResidualMode.None, ResidualMode.Separate, ResidualMode.InPlace })
                        yield return ModulatedCase($"R={r},D={d}", [r, d], gated, mode, transposedHidden: false);
        yield return ModulatedCase("2x3x31", [2, 3, 31], gated: true, ResidualMode.InPlace, transposedHidden: false);
        yield return ModulatedCase("R=7,D=31,transposed-hidden", [7, 31], gated: true, ResidualMode.Separate, transposedHidden: true);
    }

    private static OpCase ModulatedCase(string size, int[] shape, bool gated, ResidualMode mode, bool transposedHidden)
    {
        int d = shape[^1];
        string label = $"{size},{(gated ? "gate" : "no-gate")},{mode switch { ResidualMode.None => "no-residual", ResidualMode.Separate => "residual", _ => "in-place" }}";
        return new OpCase("ModulatedAddRmsNorm", label, rng =>
        [
            transposedHidden ? Randn(rng, [.. shape.Reverse()]) : Randn(rng, shape), // hidden (the previous mixer's output)
            Randn(rng, shape),                                                       // gate
            rng.Normal(shape, 0, 3),                                                 // residual stream, larger than one block's update
            Rand(rng, 0.5, 1.5, d),                                                  // weight
            Rand(rng, 0.5, 1.5, shape),                                              // 1 + scale
            Randn(rng, shape),                                                       // shift
        ], t =>
        {
            var hidden = transposedHidden ? Ops.Transpose(t[0], 0, 1) : t[0];
            Tensor? residual = mode == ResidualMode.None ? null : mode == ResidualMode.InPlace ? Ops.Clone(t[2]) : t[2];
            var residualOut = mode == ResidualMode.InPlace ? residual : null;
            var (normed, sum) = Ops.ModulatedAddRmsNorm(hidden, gated ? t[1] : null, residual, t[3], NormEps, t[4], t[5], residualOut);
            if (mode == ResidualMode.InPlace && !ReferenceEquals(sum, residual))
                throw new InvalidOperationException("ModulatedAddRmsNorm: Residual must be the residualOut passed in");
            return [normed, sum];
        }) { HasGradient = false };
    }
}

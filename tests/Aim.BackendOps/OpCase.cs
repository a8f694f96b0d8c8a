using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

/// <summary>
/// One test case of the backend-ops harness (ggml's test-backend-ops idea): an op, its parameters and
/// input shapes, and a forward function written with the Ops front-end. The same case runs in every
/// mode: backend vs reference (test), finite differences in float64 (grad), and timing (perf).
/// </summary>
/// <param name="Op">Op family name, e.g. "RmsNorm".</param>
/// <param name="Params">Readable parameters, e.g. "B=2,L=7,D=31,noncontig".</param>
/// <param name="MakeInputs">Builds the inputs (float32 on the CPU) from a generator seeded by the case name.</param>
/// <param name="Forward">Runs the op; inputs may be on any device; returns the outputs to compare.</param>
public sealed record OpCase(string Op, string Params, Func<Rng, Tensor[]> MakeInputs, Func<Tensor[], Tensor[]> Forward)
{
    /// <summary>Largest normalised mean squared error accepted in test mode (fp32 backend vs double-accumulating reference).</summary>
    public double MaxNmse { get; init; } = 1e-10;

    /// <summary>
    /// The limit for the CUDA backend where it computes in lower precision by design (bf16 tensor-core inputs);
    /// null: <see cref="MaxNmse"/>. Keeps the CPU held to the tight limit.
    /// </summary>
    public double? CudaMaxNmse { get; init; }

    /// <summary>Whether the op has a backward to check with finite differences.</summary>
    public bool HasGradient { get; init; } = true;

    /// <summary>Inputs (by index) that get no gradient check (indices, masks, parameters the op treats as constants).</summary>
    public IReadOnlySet<int> NoGradInputs { get; init; } = new HashSet<int>();

    /// <summary>Finite-difference step in float64.</summary>
    public double GradEpsilon { get; init; } = 1e-6;

    /// <summary>Gradient check tolerance: |numeric - analytic| ≤ GradAbsTol + GradRelTol·|numeric|.</summary>
    public double GradAbsTol { get; init; } = 1e-6;

    /// <summary>See <see cref="GradAbsTol"/>.</summary>
    public double GradRelTol { get; init; } = 1e-5;

    /// <summary>Input elements probed per input in grad mode (all of them when the input is smaller).</summary>
    public int GradSamples { get; init; } = 48;

    /// <summary>The display name, used as the xUnit case name and the --filter key.</summary>
    public override string ToString() => $"{Op}({Params})";

    /// <summary>A stable 64-bit seed from the case name, so a failure replays.</summary>
    public ulong Seed => SeedOf(ToString());

    /// <summary>A stable 64-bit seed from <paramref name="text"/> (FNV-1a; string.GetHashCode changes per process).</summary>
    public static ulong SeedOf(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in text)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return h;
    }
}

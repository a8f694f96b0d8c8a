using System.Reflection;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

/// <summary>
/// The catalogue of harness cases. Each op family adds a partial file with public static methods returning
/// <c>IEnumerable&lt;OpCase&gt;</c>; <see cref="All"/> collects them all. Sizes include 1, 7, 31 and 257
/// (not multiples of any SIMD width), non-contiguous views and broadcasts.
/// </summary>
public static partial class OpCases
{
    /// <summary>Every case of every family.</summary>
    public static IReadOnlyList<OpCase> All { get; } = Collect();

    private static List<OpCase> Collect()
    {
        var cases = new List<OpCase>();
        foreach (var m in typeof(OpCases).GetMethods(BindingFlags.Public | BindingFlags.Static))
            if (m.ReturnType == typeof(IEnumerable<OpCase>) && m.GetParameters().Length == 0)
                cases.AddRange((IEnumerable<OpCase>)m.Invoke(null, null)!);
        cases.Sort((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
        return cases;
    }

    /// <summary>Looks a case up by its display name.</summary>
    public static OpCase ByName(string name) => All.First(c => c.ToString() == name);

    /// <summary>Normal random float32 input, kept away from zero-only data.</summary>
    public static Tensor Randn(Rng rng, params int[] shape) => rng.Normal(shape);

    /// <summary>Uniform random float32 input in [low, high).</summary>
    public static Tensor Rand(Rng rng, double low, double high, params int[] shape) => rng.Uniform(shape, low, high);

    /// <summary>Random int64 ids in [0, n).</summary>
    public static Tensor Ids(Rng rng, int n, params int[] shape)
    {
        var data = new long[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = rng.NextInt(n);
        return Tensor.FromArray(data, shape);
    }
}

// What the --emit-* options (SsdEmit, SampleEmit, NormGemmEmit, ConvEmit) write for tests/cuda-emulation:
// raw little-endian arrays, one file per tensor, and manifest fields in the invariant culture.
using System.Globalization;
using System.Runtime.InteropServices;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Cuda.Check;

/// <summary>File and manifest helpers shared by the case emitters.</summary>
internal static class EmitFiles
{
    /// <summary>An integer manifest field.</summary>
    public static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A flag manifest field: 1 or 0.</summary>
    public static string F(bool v) => v ? "1" : "0";

    /// <summary>A double manifest field that reads back to the same value.</summary>
    public static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="values"/> raw to DIR/NAME.</summary>
    public static void Write<T>(string dir, string name, T[] values) where T : unmanaged
        => File.WriteAllBytes(Path.Combine(dir, name), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Writes a float32 tensor to DIR/NAME.f32.</summary>
    public static void WriteF32(string dir, string name, Tensor t) => Write(dir, name + ".f32", t.ToArray<float>());

    /// <summary>Writes a float64 tensor to DIR/NAME.f64.</summary>
    public static void WriteF64(string dir, string name, Tensor t) => Write(dir, name + ".f64", t.ToArray<double>());

    /// <summary>
    /// Writes DIR/manifest.txt ("# " + <paramref name="header"/>, then a line per case) and a folder DIR/NAME per case:
    /// <paramref name="write"/> gets the case, its folder and a generator seeded with <paramref name="seedBase"/> + the
    /// case's index, writes the files and returns the case's manifest line. Each case runs in its own tensor scope.
    /// Returns the process exit code.
    /// </summary>
    public static int WriteCases<T>(string dir, string what, string header, ulong seedBase, IReadOnlyList<T> cases,
        Func<T, string> name, Func<T, string, Rng, string> write)
    {
        Directory.CreateDirectory(dir);
        using var manifest = new StreamWriter(Path.Combine(dir, "manifest.txt"));
        manifest.WriteLine("# " + header);
        for (int index = 0; index < cases.Count; index++)
        {
            using var scope = TensorScope.Open();
            string at = Path.Combine(dir, name(cases[index]));
            Directory.CreateDirectory(at);
            manifest.WriteLine(write(cases[index], at, new Rng(seedBase + (ulong)index)));
        }
        Console.WriteLine($"wrote {cases.Count} {what} cases to {Path.GetFullPath(dir)}");
        return 0;
    }
}

// What the --emit-* options (SsdEmit, SampleEmit, DecodeStepEmit, NormGemmEmit) write for tests/cuda-emulation:
// raw little-endian arrays, one file per tensor, and manifest fields in the invariant culture.
using System.Globalization;
using System.Runtime.InteropServices;
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
}

// Turns a --device value into a Device, initialising the CUDA backend when one is asked for, with a plain error
// (unknown name, or CUDA not usable here and why) instead of a failure deep inside the first kernel.
using System.CommandLine;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Tensors;

namespace Aim.Cli;

/// <summary>Parses and prepares the device named on the command line.</summary>
internal static class DeviceOption
{
    /// <summary>The --tf32 switch of the commands that run f32 matrix products on a GPU.</summary>
    public static Option<bool> Tf32Option() => new("--tf32")
    {
        Description = "On a GPU, let f32 matrix products use TF32 tensor cores (10-bit mantissa inputs, f32 accumulation): several times faster, less exact.",
    };

    /// <summary>
    /// "cpu", "cuda" or "cuda:N" → a ready device; <paramref name="tf32"/> switches TF32 on for a GPU. When the GPU's
    /// kernels are not compiled yet (first use on this machine), a note saying so goes to <paramref name="notes"/>: the
    /// first steps then wait for NVRTC (seconds), which would otherwise look like a hang.
    /// </summary>
    public static Device Resolve(string text, TextWriter notes, bool tf32 = false)
    {
        var device = Device.Parse(text);
        if (device.Kind == DeviceKind.Cuda)
        {
            if (!CudaBackend.IsAvailable) throw new NotSupportedException($"--device {text}: CUDA is not available here ({CudaBackend.UnavailableReason})");
            CudaBackend.Initialize();
            var backend = CudaBackend.For(device);
            backend.CudaKernels.AllowTf32 = tf32;
            if (backend.KernelFilesCompiling > 0)
                notes.WriteLine($"note: compiling {backend.KernelFilesCompiling} CUDA kernel files for {backend.Context.Architecture} "
                    + $"(first use; cached in {backend.Compiler.CacheDirectory})");
        }
        return device;
    }
}

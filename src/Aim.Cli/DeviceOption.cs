// Turns a --device value into a Device, initialising the CUDA backend when one is asked for, with a plain error
// (unknown name, or CUDA not usable here and why) instead of a failure deep inside the first kernel.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Tensors;

namespace Aim.Cli;

/// <summary>Parses and prepares the device named on the command line.</summary>
internal static class DeviceOption
{
    /// <summary>"cpu", "cuda" or "cuda:N" → a ready device.</summary>
    public static Device Resolve(string text)
    {
        var device = Device.Parse(text);
        if (device.Kind == DeviceKind.Cuda)
        {
            if (!CudaBackend.IsAvailable) throw new NotSupportedException($"--device {text}: CUDA is not available here ({CudaBackend.UnavailableReason})");
            CudaBackend.Initialize();
        }
        return device;
    }
}

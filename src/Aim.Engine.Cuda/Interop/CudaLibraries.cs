// Finds the NVIDIA shared libraries for the [LibraryImport] declarations of this assembly: the driver
// (libcuda.so.1 / nvcuda.dll), NVRTC and cuBLAS by installed major version, in the usual folders.
using System.Reflection;
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Interop;

/// <summary>
/// Resolves the logical library names used by <see cref="CudaDriver"/>, <see cref="Nvrtc"/> and <see cref="CuBlas"/>.
/// Search order: the folders in <c>AIM_CUDA_LIBS</c> (path-separated), <c>CUDA_PATH</c>/<c>CUDA_HOME</c>,
/// /usr/local/cuda, the distribution's library folder, then the loader's own search (LD_LIBRARY_PATH, ldconfig).
/// Newer majors are tried first (13, then 12, then 11).
/// </summary>
public static class CudaLibraries
{
    internal const string Driver = "aim_cuda_driver";
    internal const string NvrtcName = "aim_nvrtc";
    internal const string CuBlasName = "aim_cublas";

    private static readonly object s_lock = new();
    private static bool s_installed;
    private static readonly Dictionary<string, string> s_loadedFrom = new();

    /// <summary>Where each library was loaded from (logical name to path), for diagnostics.</summary>
    public static IReadOnlyDictionary<string, string> LoadedFrom
    {
        get
        {
            lock (s_lock) return new Dictionary<string, string>(s_loadedFrom);
        }
    }

    /// <summary>Installs the resolver for this assembly (idempotent; called by every interop class's static constructor).</summary>
    public static void Install()
    {
        lock (s_lock)
        {
            if (s_installed) return;
            NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);
            s_installed = true;
        }
    }

    /// <summary>The file names tried for a logical library, most preferred first.</summary>
    internal static string[] CandidateNames(string library)
    {
        bool windows = OperatingSystem.IsWindows();
        return library switch
        {
            Driver => windows ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            NvrtcName => windows
                ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
                : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            CuBlasName => windows
                ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
                : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
            _ => [library],
        };
    }

    /// <summary>The folders searched before the loader's default search.</summary>
    internal static List<string> SearchFolders()
    {
        var folders = new List<string>();
        string? env = Environment.GetEnvironmentVariable("AIM_CUDA_LIBS");
        if (!string.IsNullOrWhiteSpace(env))
            folders.AddRange(env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (string var in new[] { "CUDA_PATH", "CUDA_HOME" })
        {
            string? root = Environment.GetEnvironmentVariable(var);
            if (string.IsNullOrWhiteSpace(root)) continue;
            folders.Add(Path.Combine(root, "lib64"));
            folders.Add(Path.Combine(root, "lib"));
            folders.Add(Path.Combine(root, "bin"));
        }
        if (!OperatingSystem.IsWindows())
        {
            folders.Add("/usr/local/cuda/lib64");
            folders.Add("/usr/local/cuda/targets/x86_64-linux/lib");
            folders.Add("/usr/local/nvidia/lib64");
            folders.Add("/usr/lib/x86_64-linux-gnu");
            folders.Add("/usr/lib64");
        }
        return folders;
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName is not (Driver or NvrtcName or CuBlasName)) return 0;
        var folders = SearchFolders();
        foreach (string name in CandidateNames(libraryName))
        {
            foreach (string folder in folders)
            {
                string path = Path.Combine(folder, name);
                if (!File.Exists(path)) continue;
                if (libraryName == CuBlasName) PreloadCompanions(folder, "libcublasLt.so*", "cublasLt64_*.dll");
                if (libraryName == NvrtcName) PreloadCompanions(folder, "libnvrtc-builtins.so*", "nvrtc-builtins64_*.dll");
                if (NativeLibrary.TryLoad(path, out nint h)) return Remember(libraryName, path, h);
            }
            if (NativeLibrary.TryLoad(name, out nint handle)) return Remember(libraryName, name, handle);
        }
        return 0;
    }

    // cuBLAS needs cuBLASLt of the same version and NVRTC opens its builtins library by name at compile time.
    // Loading them from the same folder first lets the loader find them (by soname) even when that folder is
    // not on its search path.
    private static void PreloadCompanions(string folder, string linuxPattern, string windowsPattern)
    {
        string pattern = OperatingSystem.IsWindows() ? windowsPattern : linuxPattern;
        foreach (string path in Directory.GetFiles(folder, pattern).Order(StringComparer.Ordinal))
            NativeLibrary.TryLoad(path, out _);
    }

    private static nint Remember(string library, string path, nint handle)
    {
        lock (s_lock) s_loadedFrom[library] = path;
        return handle;
    }
}

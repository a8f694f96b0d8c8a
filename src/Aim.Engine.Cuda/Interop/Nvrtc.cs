// [LibraryImport] declarations for NVRTC (libnvrtc.so.13/12), blittable signatures only, and its Check().
// Signatures follow the NVRTC API reference (nvrtc.h).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Interop;

/// <summary>The NVRTC calls the kernel compiler uses. A program is an opaque <c>nint</c>.</summary>
internal static unsafe partial class Nvrtc
{
    public const int Success = 0;
    public const int ErrorCompilation = 6;

    static Nvrtc() => CudaLibraries.Install();

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="status"/> is NVRTC_SUCCESS.</summary>
    public static void Check(int status, [CallerArgumentExpression(nameof(status))] string expression = "")
    {
        if (status != Success) throw Error(status, expression, log: null);
    }

    /// <summary>The exception for a failed NVRTC call, with the program log appended when there is one.</summary>
    public static CudaException Error(int status, string expression, string? log)
    {
        string text = Marshal.PtrToStringUTF8((nint)nvrtcGetErrorString(status)) ?? "(no description)";
        if (!string.IsNullOrWhiteSpace(log)) text += Environment.NewLine + "NVRTC log:" + Environment.NewLine + log.TrimEnd();
        return new CudaException("NVRTC", status, NameOf(status), text, expression);
    }

    private static string NameOf(int status) => status switch
    {
        1 => "NVRTC_ERROR_OUT_OF_MEMORY",
        2 => "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
        3 => "NVRTC_ERROR_INVALID_INPUT",
        4 => "NVRTC_ERROR_INVALID_PROGRAM",
        5 => "NVRTC_ERROR_INVALID_OPTION",
        6 => "NVRTC_ERROR_COMPILATION",
        7 => "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
        11 => "NVRTC_ERROR_INTERNAL_ERROR",
        _ => $"nvrtcResult {status}",
    };

    [LibraryImport(CudaLibraries.NvrtcName)] public static partial byte* nvrtcGetErrorString(int result);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcVersion(int* major, int* minor);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetNumSupportedArchs(int* count);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(CudaLibraries.NvrtcName)]
    public static partial int nvrtcCreateProgram(nint* program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcDestroyProgram(nint* program);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(CudaLibraries.NvrtcName)] public static partial int nvrtcGetCUBIN(nint program, byte* cubin);
}

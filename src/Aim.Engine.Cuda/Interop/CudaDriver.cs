// [LibraryImport] declarations for the CUDA driver API (libcuda.so.1), blittable signatures only, and its
// Check(). Signatures and enum values follow the CUDA Driver API reference (cuda.h).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Interop;

/// <summary>The CUDA driver API calls the engine uses. Device pointers are <c>ulong</c> (CUdeviceptr).</summary>
internal static unsafe partial class CudaDriver
{
    public const int Success = 0;
    public const int ErrorOutOfMemory = 2;
    public const int ErrorNoDevice = 100;

    public const int AttrMultiprocessorCount = 16;
    public const int AttrComputeCapabilityMajor = 75;
    public const int AttrComputeCapabilityMinor = 76;
    public const int AttrMaxSharedMemoryPerBlockOptin = 97;

    public const int FuncAttrSharedSizeBytes = 1;
    public const int FuncAttrMaxDynamicSharedSizeBytes = 8;

    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0;
    public const int StreamCaptureModeThreadLocal = 1;
    public const int StreamCaptureModeRelaxed = 2;

    static CudaDriver() => CudaLibraries.Install();

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="status"/> is CUDA_SUCCESS.</summary>
    public static void Check(int status, [CallerArgumentExpression(nameof(status))] string expression = "")
    {
        if (status != Success) throw Error(status, expression);
    }

    /// <summary>The exception for a failed driver call (name and text from cuGetErrorName/cuGetErrorString).</summary>
    public static CudaException Error(int status, string expression)
    {
        string name = $"CUresult {status}", text = "(no description)";
        byte* p;
        if (cuGetErrorName(status, &p) == Success && p != null) name = Marshal.PtrToStringUTF8((nint)p) ?? name;
        if (cuGetErrorString(status, &p) == Success && p != null) text = Marshal.PtrToStringUTF8((nint)p) ?? text;
        return new CudaException("CUDA driver", status, name, text, expression);
    }

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuInit(uint flags);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDriverGetVersion(int* version);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGetErrorString(int error, byte** text);

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuDeviceTotalMem_v2")] public static partial int cuDeviceTotalMem(nuint* bytes, int device);

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuCtxGetCurrent(nint* context);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuCtxSynchronize();
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemGetInfo_v2")] public static partial int cuMemGetInfo(nuint* free, nuint* total);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemAlloc_v2")] public static partial int cuMemAlloc(ulong* pointer, nuint bytes);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemFree_v2")] public static partial int cuMemFree(ulong pointer);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuMemAllocAsync(ulong* pointer, nuint bytes, nint stream);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuMemFreeAsync(ulong pointer, nint stream);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyHtoD_v2")] public static partial int cuMemcpyHtoD(ulong destination, void* source, nuint bytes);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoH_v2")] public static partial int cuMemcpyDtoH(void* destination, ulong source, nuint bytes);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoD_v2")] public static partial int cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static partial int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static partial int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static partial int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemsetD8_v2")] public static partial int cuMemsetD8(ulong destination, byte value, nuint count);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuModuleLoadData(nint* module, void* image);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuModuleGetFunction(nint* function, nint module, byte* name);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuFuncGetAttribute(int* value, int attribute, nint function);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuFuncSetAttribute(nint function, int attribute, int value);
    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuLaunchKernelEx(LaunchConfig* config, nint function, void** kernelParams, void** extra);

    /// <summary>CUlaunchConfig (cuda.h): grid, block, dynamic shared memory, stream and the attribute list.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LaunchConfig
    {
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedMemBytes;
        public nint Stream;
        public LaunchAttribute* Attributes;
        public uint AttributeCount;
    }

    /// <summary>CUlaunchAttribute: a 4-byte id, padding to 8, then the 64-byte value union (here its first int).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct LaunchAttribute
    {
        [FieldOffset(0)] public int Id;
        [FieldOffset(8)] public int Value;
    }

    /// <summary>CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: the kernel may start before its predecessor in the
    /// stream completes; it resolves the dependency itself (griddepcontrol.wait, AIM_PDL_PROLOGUE in common.cuh).</summary>
    public const int LaunchAttributeProgrammaticStreamSerialization = 6;

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuStreamDestroy_v2")] public static partial int cuStreamDestroy(nint stream);

    [LibraryImport(CudaLibraries.Driver)] public static partial int cuEventCreate(nint* evt, uint flags);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuEventRecord(nint evt, nint stream);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuEventSynchronize(nint evt);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);
    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuEventDestroy_v2")] public static partial int cuEventDestroy(nint evt);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuStreamBeginCapture_v2")] public static partial int cuStreamBeginCapture(nint stream, int mode);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuStreamEndCapture(nint stream, nint* graph);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGraphExecDestroy(nint graphExec);
    [LibraryImport(CudaLibraries.Driver)] public static partial int cuGraphDestroy(nint graph);
}

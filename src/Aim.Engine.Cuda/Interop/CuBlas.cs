// [LibraryImport] declarations for cuBLAS (libcublas.so.13/12), blittable signatures only, and its Check().
// Signatures and enum values follow the cuBLAS reference (cublas_api.h, library_types.h).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Interop;

/// <summary>The cuBLAS calls the GEMM kernel uses. The handle is an opaque <c>nint</c>.</summary>
internal static unsafe partial class CuBlas
{
    public const int Success = 0;

    public const int OpN = 0;
    public const int OpT = 1;

    // cudaDataType_t
    public const int R32F = 0;
    public const int R64F = 1;
    public const int R16BF = 14;

    // cublasComputeType_t
    public const int Compute32F = 68;
    public const int Compute32FFastTf32 = 77;
    public const int Compute64F = 70;

    // cublasMath_t
    public const int DefaultMath = 0;
    public const int PedanticMath = 2;

    public const int GemmDefault = -1;

    static CuBlas() => CudaLibraries.Install();

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="status"/> is CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, [CallerArgumentExpression(nameof(status))] string expression = "")
    {
        if (status == Success) return;
        string name = NameOf(status);
        string text = name;
        try
        {
            text = Marshal.PtrToStringUTF8((nint)cublasGetStatusString(status)) ?? name;
        }
        catch (EntryPointNotFoundException)
        {
            // cublasGetStatusString exists from cuBLAS 11.4 on; older libraries just get the name.
        }
        throw new CudaException("cuBLAS", status, name, text, expression);
    }

    private static string NameOf(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {status}",
    };

    [LibraryImport(CudaLibraries.CuBlasName)] public static partial byte* cublasGetStatusString(int status);
    [LibraryImport(CudaLibraries.CuBlasName, EntryPoint = "cublasCreate_v2")] public static partial int cublasCreate(nint* handle);
    [LibraryImport(CudaLibraries.CuBlasName, EntryPoint = "cublasDestroy_v2")] public static partial int cublasDestroy(nint handle);
    [LibraryImport(CudaLibraries.CuBlasName, EntryPoint = "cublasSetStream_v2")] public static partial int cublasSetStream(nint handle, nint stream);
    [LibraryImport(CudaLibraries.CuBlasName, EntryPoint = "cublasGetVersion_v2")] public static partial int cublasGetVersion(nint handle, int* version);
    [LibraryImport(CudaLibraries.CuBlasName)] public static partial int cublasSetMathMode(nint handle, int mode);
    [LibraryImport(CudaLibraries.CuBlasName, EntryPoint = "cublasSetWorkspace_v2")] public static partial int cublasSetWorkspace(nint handle, void* workspace, nuint bytes);
    [LibraryImport(CudaLibraries.CuBlasName)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, int transA, int transB, int m, int n, int k,
        void* alpha, void* a, int aType, int lda, long strideA,
        void* b, int bType, int ldb, long strideB,
        void* beta, void* c, int cType, int ldc, long strideC,
        int batchCount, int computeType, int algo);
}

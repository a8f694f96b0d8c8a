// The exception every failing CUDA driver, NVRTC or cuBLAS call turns into (ANCHORS.md 8.7, "Errors").
namespace Aim.Engine.Cuda.Interop;

/// <summary>A failed call into the CUDA driver, NVRTC or cuBLAS: the call expression, the status name and its text.</summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates an exception with just a message.</summary>
    public CudaException() : base("CUDA call failed") { }

    /// <summary>Creates an exception with just a message.</summary>
    public CudaException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public CudaException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception for a failed call.</summary>
    public CudaException(string library, int status, string statusName, string statusText, string expression)
        : base($"{library} call failed: {expression} returned {statusName} ({status}): {statusText}")
    {
        Library = library;
        Status = status;
        StatusName = statusName;
        Expression = expression;
    }

    /// <summary>"CUDA driver", "NVRTC" or "cuBLAS".</summary>
    public string Library { get; } = "";

    /// <summary>The numeric status the call returned.</summary>
    public int Status { get; }

    /// <summary>The status's symbolic name (e.g. CUDA_ERROR_INVALID_VALUE).</summary>
    public string StatusName { get; } = "";

    /// <summary>The failing call as written in the source.</summary>
    public string Expression { get; } = "";
}

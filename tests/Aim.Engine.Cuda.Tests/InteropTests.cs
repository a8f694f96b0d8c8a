// The interop layer: library resolution, availability probing without a GPU, and error messages that name the call.
using System.Text;
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Cuda.Runtime;

namespace Aim.Engine.Cuda.Tests;

public class InteropTests
{
    [Fact]
    public void AvailabilityProbeNeverThrows()
    {
        bool available = CudaBackend.IsAvailable;
        Assert.Equal(available, CudaBackend.UnavailableReason.Length == 0);
    }

    [Fact]
    public void LibraryCandidatesPreferNewestMajor()
    {
        if (OperatingSystem.IsWindows()) return;
        Assert.Equal("libnvrtc.so.13", CudaLibraries.CandidateNames(CudaLibraries.NvrtcName)[0]);
        Assert.Equal("libcublas.so.13", CudaLibraries.CandidateNames(CudaLibraries.CuBlasName)[0]);
        Assert.Equal("libcuda.so.1", CudaLibraries.CandidateNames(CudaLibraries.Driver)[0]);
    }

    [Fact]
    public void EnvironmentFolderIsSearchedFirst()
    {
        string? before = Environment.GetEnvironmentVariable("AIM_CUDA_LIBS");
        try
        {
            Environment.SetEnvironmentVariable("AIM_CUDA_LIBS", "/opt/first" + Path.PathSeparator + "/opt/second");
            var folders = CudaLibraries.SearchFolders();
            Assert.Equal("/opt/first", folders[0]);
            Assert.Equal("/opt/second", folders[1]);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AIM_CUDA_LIBS", before);
        }
    }

    [Fact]
    public void CudaExceptionNamesTheCall()
    {
        var e = new CudaException("CUDA driver", 500, "CUDA_ERROR_NOT_FOUND", "named symbol not found", "cuModuleGetFunction(&f, module, name)");
        Assert.Contains("cuModuleGetFunction(&f, module, name)", e.Message, StringComparison.Ordinal);
        Assert.Contains("CUDA_ERROR_NOT_FOUND", e.Message, StringComparison.Ordinal);
        Assert.Equal(500, e.Status);
    }

    [CudaFact]
    public void DriverErrorCarriesCallNameAndText()
    {
        var backend = CudaBackend.For(CudaHarness.Device);
        // Load a real module, then ask for a function it does not have.
        _ = backend.CudaKernels.Function("fill.cu", "fill_b32");
        var e = Assert.Throws<CudaException>(() => backend.CudaKernels.Function("fill.cu", "no_such_kernel"));
        Assert.Contains("cuModuleGetFunction", e.Message, StringComparison.Ordinal);
        Assert.Contains("CUDA_ERROR_NOT_FOUND", e.Message, StringComparison.Ordinal);
    }

    [CudaFact]
    public void ContextReportsTheDevice()
    {
        var backend = CudaBackend.For(CudaHarness.Device);
        Assert.False(string.IsNullOrEmpty(backend.Context.Name));
        Assert.True(backend.Context.Major >= 5);
        Assert.StartsWith("sm_", backend.Context.Architecture, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(backend.Context.Name) < 256);
    }
}

// Every embedded .cu file compiles with NVRTC (no GPU needed), and the on-disk CUBIN cache is keyed and reused.
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Cuda.Runtime;

namespace Aim.Engine.Cuda.Tests;

public class KernelCompileTests
{
    public static TheoryData<string> Files() => [.. KernelCompiler.KernelFiles];

    /// <summary>sm_90 (the H200) when this NVRTC knows it, else the newest architecture it supports.</summary>
    private static string TestArchitecture()
    {
        var archs = KernelCompiler.SupportedArchitectures();
        int arch = archs.Contains(90) ? 90 : archs.Max();
        return $"sm_{arch}";
    }

    [Fact]
    public void KernelSourcesAreEmbedded()
    {
        Assert.Contains("elementwise.cu", KernelCompiler.KernelFiles);
        Assert.Contains("common.cuh", KernelCompiler.HeaderFiles);
        Assert.True(KernelCompiler.KernelFiles.Count >= 4);
    }

    [NvrtcTheory]
    [MemberData(nameof(Files))]
    public void EveryKernelFileCompiles(string file)
    {
        var compiler = new KernelCompiler(TestArchitecture(), Path.Combine(Path.GetTempPath(), "aim-kernel-test-" + Guid.NewGuid().ToString("N")));
        byte[] cubin = compiler.CompileSource(file, KernelCompiler.ReadSource(file));
        Assert.True(cubin.Length > 0);
        Assert.Equal(0x7F, cubin[0]); // ELF
    }

    [NvrtcFact]
    public void CubinCacheIsReused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aim-kernel-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            var compiler = new KernelCompiler(TestArchitecture(), dir);
            var first = compiler.Compile("fill.cu");
            Assert.Equal(1, compiler.NvrtcCompiles);
            Assert.Same(first, compiler.Compile("fill.cu"));     // one compile per compiler
            var again = new KernelCompiler(TestArchitecture(), dir);
            Assert.Equal(first, again.Compile("fill.cu"));
            Assert.Equal(0, again.NvrtcCompiles);               // served from the disk cache
            Assert.Single(Directory.GetFiles(dir, "fill-*.cubin"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [NvrtcFact]
    public async Task PrefetchCompilesWhatTheCacheLacksAndCompileWaitsForIt()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aim-kernel-prefetch-" + Guid.NewGuid().ToString("N"));
        try
        {
            var warm = new KernelCompiler(TestArchitecture(), dir);
            warm.Compile("fill.cu");
            var compiler = new KernelCompiler(TestArchitecture(), dir);
            var uncached = compiler.UncachedFiles();
            Assert.Equal(KernelCompiler.KernelFiles.Count - 1, uncached.Count);
            Assert.DoesNotContain("fill.cu", uncached);
            var prefetch = compiler.Prefetch(uncached, parallelism: 2);
            byte[] vq = compiler.Compile("vq.cu");              // needed now: compiled at once or awaited, once
            await prefetch;
            Assert.Equal(KernelCompiler.KernelFiles.Count - 1, compiler.NvrtcCompiles);   // fill.cu was cached
            Assert.Same(vq, compiler.Compile("vq.cu"));
            foreach (string file in KernelCompiler.KernelFiles)
                Assert.Single(Directory.GetFiles(dir, Path.GetFileNameWithoutExtension(file) + "-*.cubin"));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
            var full = new KernelCompiler(TestArchitecture(), dir);
            Assert.Empty(full.UncachedFiles());
            await full.Prefetch();
            Assert.Equal(0, full.NvrtcCompiles);                // nothing left to compile
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [NvrtcFact]
    public void CompileErrorCarriesTheLogAndTheCall()
    {
        var compiler = new KernelCompiler(TestArchitecture());
        var e = Assert.Throws<CudaException>(() => compiler.CompileSource("broken.cu", "extern \"C\" __global__ void k() { undefined_name(); }"));
        Assert.Contains("nvrtcCompileProgram(broken.cu", e.Message, StringComparison.Ordinal);
        Assert.Contains("NVRTC_ERROR_COMPILATION", e.Message, StringComparison.Ordinal);
        Assert.Contains("undefined_name", e.Message, StringComparison.Ordinal);
    }
}

public class NvrtcDefinesTests
{
    [Fact]
    public void DefinitionsPassThroughAndAnythingElseIsRefused()
    {
        Assert.Empty(KernelCompiler.ParseDefines(null));
        Assert.Empty(KernelCompiler.ParseDefines("  "));
        Assert.Equal(["-DSSD_TK=32", "-DSSD_MIN_BLOCKS=2", "-DFLAG"], KernelCompiler.ParseDefines(" -DSSD_TK=32  -DSSD_MIN_BLOCKS=2 -DFLAG"));
        foreach (string bad in new[] { "-lineinfo", "-D", "-D=3", "--use_fast_math", "-DA -I/tmp", "-D1X" })
        {
            var e = Assert.Throws<ArgumentException>(() => KernelCompiler.ParseDefines(bad));
            Assert.Contains("AIM_NVRTC_DEFINES", e.Message);
        }
    }
}

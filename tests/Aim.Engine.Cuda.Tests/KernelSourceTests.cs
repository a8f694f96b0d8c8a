// Source rules every kernel file must follow (no GPU or NVRTC needed).
using System.Text.RegularExpressions;
using Aim.Engine.Cuda.Runtime;

namespace Aim.Engine.Cuda.Tests;

public partial class KernelSourceTests
{
    public static TheoryData<string> Files() => [.. KernelCompiler.KernelFiles];

    /// <summary>
    /// Kernels recorded into a CUDA graph are launched as programmatic dependent launches, which is only correct when
    /// the kernel waits for its predecessor before touching memory: every __global__ function's body must begin with
    /// AIM_PDL_PROLOGUE() (common.cuh).
    /// </summary>
    [Theory]
    [MemberData(nameof(Files))]
    public void EveryKernelStartsWithTheDependentLaunchPrologue(string file)
    {
        string source = KernelCompiler.ReadSource(file).Replace("\\\n", " ");   // macro line continuations, as the preprocessor joins them
        var missing = new List<string>();
        int kernels = 0;
        foreach (Match m in GlobalKeyword().Matches(source))
        {
            int lineStart = source.LastIndexOf('\n', m.Index) + 1;
            if (source[lineStart..m.Index].TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
            kernels++;
            int body = source.IndexOf('{', m.Index);
            Assert.True(body > 0, $"{file}: no body after __global__ at offset {m.Index}");
            string start = source[(body + 1)..].TrimStart();
            if (!start.StartsWith("AIM_PDL_PROLOGUE();", StringComparison.Ordinal))
            {
                var name = KernelName().Match(source, m.Index);
                missing.Add(name.Success ? name.Groups[1].Value : $"offset {m.Index}");
            }
        }
        Assert.True(kernels > 0, $"{file} defines no kernel");
        Assert.True(missing.Count == 0, $"{file}: kernels without AIM_PDL_PROLOGUE(): {string.Join(", ", missing)}");
    }

    [GeneratedRegex(@"\b__global__\b")]
    private static partial Regex GlobalKeyword();

    [GeneratedRegex(@"void\s+(?:__launch_bounds__\([^)]*\)\s*)?([\w#]+)\s*\(")]
    private static partial Regex KernelName();
}

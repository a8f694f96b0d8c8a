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
    /// AIM_PDL_PROLOGUE() (common.cuh), or with AIM_PDL_READONLY_PREFETCH() (reads of what no kernel writes come
    /// first) and contain AIM_PDL_PROLOGUE().
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
            bool waits = start.StartsWith("AIM_PDL_PROLOGUE();", StringComparison.Ordinal)
                || (start.StartsWith("AIM_PDL_READONLY_PREFETCH();", StringComparison.Ordinal) && Body(source, body).Contains("AIM_PDL_PROLOGUE();", StringComparison.Ordinal));
            if (!waits)
            {
                var name = KernelName().Match(source, m.Index);
                missing.Add(name.Success ? name.Groups[1].Value : $"offset {m.Index}");
            }
        }
        Assert.True(kernels > 0, $"{file} defines no kernel");
        Assert.True(missing.Count == 0, $"{file}: kernels without AIM_PDL_PROLOGUE(): {string.Join(", ", missing)}");
    }

    /// <summary>The text between the brace at <paramref name="open"/> and its matching close.</summary>
    private static string Body(string source, int open)
    {
        int depth = 0;
        for (int i = open; i < source.Length; i++)
        {
            if (source[i] == '{') depth++;
            else if (source[i] == '}' && --depth == 0) return source[(open + 1)..i];
        }
        return source[(open + 1)..];
    }

    [GeneratedRegex(@"\b__global__\b")]
    private static partial Regex GlobalKeyword();

    [GeneratedRegex(@"void\s+(?:__launch_bounds__\([^)]*\)\s*)?([\w#]+)\s*\(")]
    private static partial Regex KernelName();
}

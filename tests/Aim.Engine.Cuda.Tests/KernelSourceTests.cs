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

    /// <summary>
    /// Every launch site of the backend (<c>Function("file.cu", "kernel"...)</c> in src/Aim.Engine.Cuda/Kernels/*.cs) names an
    /// embedded file, and a kernel named in full (not built from a prefix and a suffix) is defined in that file: a wrong
    /// pair would otherwise surface only on a GPU.
    /// </summary>
    [Fact]
    public void EveryLaunchNamesAnEmbeddedFileThatDefinesTheKernel()
    {
        string dir = Path.Combine(RepositoryRoot(), "src", "Aim.Engine.Cuda", "Kernels");
        var problems = new List<string>();
        int sites = 0;
        foreach (string cs in Directory.GetFiles(dir, "*.cs"))
            foreach (Match m in LaunchSite().Matches(File.ReadAllText(cs)))
            {
                sites++;
                string file = m.Groups[1].Value, kernel = m.Groups[2].Value;
                if (!KernelCompiler.KernelFiles.Contains(file)) problems.Add($"{Path.GetFileName(cs)}: {file} is not an embedded kernel file");
                else if (kernel.Length == 0) problems.Add($"{Path.GetFileName(cs)}: a launch of {file} with no kernel name");
                else if (m.Groups[3].Value == ")" && !Regex.IsMatch(KernelCompiler.ReadSource(file), $@"\b{kernel}\b"))
                    problems.Add($"{Path.GetFileName(cs)}: {kernel} is not defined in {file}");
            }
        Assert.True(sites > 20, $"found only {sites} launch sites under {dir}");
        Assert.True(problems.Count == 0, string.Join("; ", problems));
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Aim.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException($"no Aim.slnx above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"Function\(""([\w.]+)"",\s*""(\w*)""\s*(\)|\+)")]
    private static partial Regex LaunchSite();

    [GeneratedRegex(@"\b__global__\b")]
    private static partial Regex GlobalKeyword();

    [GeneratedRegex(@"void\s+(?:__launch_bounds__\([^)]*\)\s*)?([\w#]+)\s*\(")]
    private static partial Regex KernelName();
}

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
    /// AIM_PDL_PROLOGUE() or AIM_PDL_PROLOGUE_PREFETCHING(...) (common.cuh), whose arguments may only be calls of
    /// aim_prefetch_l2 or of *_prefetch functions (which, by the rule common.cuh states, only prefetch into L2).
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
            if (!start.StartsWith("AIM_PDL_PROLOGUE();", StringComparison.Ordinal) && !OnlyPrefetches(start))
            {
                var name = KernelName().Match(source, m.Index);
                missing.Add(name.Success ? name.Groups[1].Value : $"offset {m.Index}");
            }
        }
        Assert.True(kernels > 0, $"{file} defines no kernel");
        Assert.True(missing.Count == 0, $"{file}: kernels without AIM_PDL_PROLOGUE() or a prefetching prologue: {string.Join(", ", missing)}");
    }

    [Theory]
    [InlineData("AIM_PDL_PROLOGUE_PREFETCHING(aim_prefetch_l2(w, 4)); rest", true)]
    [InlineData("AIM_PDL_PROLOGUE_PREFETCHING(skinny_prefetch(wt, f(a, b), N), aim_prefetch_l2(gw, (i64)K * 4));", true)]
    [InlineData("AIM_PDL_PROLOGUE_PREFETCHING(aim_prefetch_l2(w, 4), y[0] = 1);", false)]
    [InlineData("AIM_PDL_PROLOGUE_PREFETCHING(load_weights(w));", false)]
    [InlineData("AIM_PDL_PROLOGUE_PREFETCHING(aim_prefetch_l2(w, 4))", false)]
    [InlineData("y[0] = 1; AIM_PDL_PROLOGUE();", false)]
    public void APrefetchingPrologueTakesOnlyPrefetchCalls(string code, bool accepted) => Assert.Equal(accepted, OnlyPrefetches(code));

    /// <summary>
    /// Whether code starts with AIM_PDL_PROLOGUE_PREFETCHING(...); whose comma-separated arguments are each a call of
    /// aim_prefetch_l2 or of a function named *_prefetch.
    /// </summary>
    private static bool OnlyPrefetches(string code)
    {
        const string Macro = "AIM_PDL_PROLOGUE_PREFETCHING(";
        if (!code.StartsWith(Macro, StringComparison.Ordinal)) return false;
        var arguments = new List<string>();
        int depth = 0, from = Macro.Length;
        for (int i = Macro.Length; i < code.Length; i++)
        {
            char c = code[i];
            if (c == '(') depth++;
            else if (c == ')' && depth > 0) depth--;
            else if ((c == ',' && depth == 0) || c == ')')
            {
                arguments.Add(code[from..i].Trim());
                from = i + 1;
                if (c == ')') return code[(i + 1)..].TrimStart().StartsWith(';') && arguments.All(a => PrefetchCall().IsMatch(a));
            }
        }
        return false;
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

    [GeneratedRegex(@"^(aim_prefetch_l2|\w+_prefetch)\(.*\)$", RegexOptions.Singleline)]
    private static partial Regex PrefetchCall();

    [GeneratedRegex(@"\b__global__\b")]
    private static partial Regex GlobalKeyword();

    [GeneratedRegex(@"void\s+(?:__launch_bounds__\([^)]*\)\s*)?([\w#]+)\s*\(")]
    private static partial Regex KernelName();
}

// Compiles the embedded Kernels/*.cu files with NVRTC to CUBIN for one architecture and caches the result
// on disk, keyed by SHA-256 of (source, headers, options, NVRTC version, architecture) as tinygrad's
// compile_cached does (ANCHORS.md 8.7, "Kernel compilation"). NVRTC needs no GPU.
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Aim.Engine.Cuda.Interop;
using static Aim.Engine.Cuda.Interop.Nvrtc;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>NVRTC front-end for the kernels embedded in this assembly.</summary>
public sealed unsafe partial class KernelCompiler
{
    private const string ResourcePrefix = "Kernels/";
    private readonly string[] _options;
    private readonly (string Name, string Text)[] _headers;

    /// <summary>A compiler for <paramref name="architecture"/> ("sm_90"), caching under <paramref name="cacheDirectory"/>.</summary>
    public KernelCompiler(string architecture, string? cacheDirectory = null)
    {
        Architecture = architecture;
        CacheDirectory = cacheDirectory ?? DefaultCacheDirectory;
        var options = new List<string> { $"--gpu-architecture={architecture}", "-std=c++17" };
        // Line info for profilers is opt-in: with it NVRTC 11.8 recursed past a 256 MiB stack on copy.cu.
        if (Environment.GetEnvironmentVariable("AIM_CUDA_LINEINFO") == "1") options.Add("-lineinfo");
        // Tuning knob for measuring kernel variants without rebuilding (e.g. AIM_NVRTC_DEFINES="-DSSD_TK=32"):
        // only -D macro definitions; they are part of the cache key like every option.
        options.AddRange(ParseDefines(Environment.GetEnvironmentVariable("AIM_NVRTC_DEFINES")));
        _options = [.. options];
        _headers = [.. HeaderFiles.Select(h => (h, ReadSource(h)))];
    }

    /// <summary>The -DNAME[=VALUE] definitions of a space-separated list (AIM_NVRTC_DEFINES); anything else is refused.</summary>
    internal static IReadOnlyList<string> ParseDefines(string? list)
    {
        var defines = new List<string>();
        foreach (string define in (list ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!DefinePattern().IsMatch(define))
                throw new ArgumentException($"AIM_NVRTC_DEFINES may only hold -DNAME[=VALUE] definitions, got '{define}'");
            defines.Add(define);
        }
        return defines;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^-D[A-Za-z_][A-Za-z0-9_]*(=\S*)?$")]
    private static partial System.Text.RegularExpressions.Regex DefinePattern();

    /// <summary>The target ("sm_90").</summary>
    public string Architecture { get; }

    /// <summary>Where CUBINs are cached.</summary>
    public string CacheDirectory { get; }

    /// <summary>The NVRTC options (no fast math: numerics first).</summary>
    public IReadOnlyList<string> Options => _options;

    /// <summary>True when the last <see cref="Compile"/> was served from the disk cache.</summary>
    public bool LastWasCached { get; private set; }

    /// <summary><c>AIM_KERNEL_CACHE</c>, else ~/.cache/aim/kernels.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("AIM_KERNEL_CACHE");
            if (!string.IsNullOrWhiteSpace(env)) return env;
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home)) home = Path.GetTempPath();
            return Path.Combine(home, ".cache", "aim", "kernels");
        }
    }

    /// <summary>The embedded kernel files ("elementwise.cu", ...).</summary>
    public static IReadOnlyList<string> KernelFiles { get; } = ResourceFiles(".cu");

    /// <summary>The embedded headers passed to every compilation ("common.cuh").</summary>
    public static IReadOnlyList<string> HeaderFiles { get; } = ResourceFiles(".cuh");

    /// <summary>NVRTC's (major, minor) version; throws <see cref="DllNotFoundException"/> when NVRTC is not installed.</summary>
    public static (int Major, int Minor) NvrtcVersion()
    {
        int major, minor;
        Check(nvrtcVersion(&major, &minor));
        return (major, minor);
    }

    /// <summary>True when NVRTC can be loaded.</summary>
    public static bool IsNvrtcAvailable
    {
        get
        {
            try
            {
                NvrtcVersion();
                return true;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CudaException)
            {
                return false;
            }
        }
    }

    /// <summary>The real architectures this NVRTC can target (e.g. 75, 80, 86, 89, 90, ...).</summary>
    public static int[] SupportedArchitectures()
    {
        int count;
        Check(nvrtcGetNumSupportedArchs(&count));
        var archs = new int[count];
        fixed (int* p = archs) Check(nvrtcGetSupportedArchs(p));
        return archs;
    }

    /// <summary>The source text of an embedded file.</summary>
    public static string ReadSource(string file)
    {
        using var stream = typeof(KernelCompiler).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new FileNotFoundException($"no embedded kernel source '{file}'", file);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The CUBIN for <paramref name="file"/>, from the disk cache when an identical compile was done before.</summary>
    public byte[] Compile(string file)
    {
        string source = ReadSource(file);
        var (major, minor) = NvrtcVersion();
        string key = CacheKey(source, major, minor);
        string path = Path.Combine(CacheDirectory, $"{Path.GetFileNameWithoutExtension(file)}-{key[..32]}.cubin");
        if (File.Exists(path))
        {
            LastWasCached = true;
            return File.ReadAllBytes(path);
        }
        var cubin = CompileSource(file, source);
        LastWasCached = false;
        try
        {
            Directory.CreateDirectory(CacheDirectory);
            string tmp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(tmp, cubin);
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException)
        {
            // The cache is an optimisation: a read-only or full disk only costs a recompile next time.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
        return cubin;
    }

    /// <summary>Compiles <paramref name="source"/> (named <paramref name="name"/> in messages) without touching the cache.</summary>
    /// <remarks>
    /// NVRTC recurses deeply (copy.cu needs 4 to 8 MiB with NVRTC 11.8) and would overflow the 1.5 MiB stacks
    /// of .NET worker threads, so the compile runs on a dedicated thread with a 256 MiB stack (reserved
    /// address space, committed only as used).
    /// </remarks>
    public byte[] CompileSource(string name, string source)
    {
        byte[]? result = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = CompileOnThisThread(name, source);
            }
            catch (Exception e)
            {
                error = e;
            }
        }, CompilerStackBytes)
        { Name = "nvrtc", IsBackground = true };
        thread.Start();
        thread.Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result!;
    }

    private const int CompilerStackBytes = 256 << 20;

    private byte[] CompileOnThisThread(string name, string source)
    {
        using var program = new NvrtcProgramHandle();
        var pinned = new List<GCHandle>();
        try
        {
            byte* Utf8(string s)
            {
                var bytes = Encoding.UTF8.GetBytes(s + "\0");
                var h = GCHandle.Alloc(bytes, GCHandleType.Pinned);
                pinned.Add(h);
                return (byte*)h.AddrOfPinnedObject();
            }

            int nh = _headers.Length;
            byte** headers = stackalloc byte*[Math.Max(nh, 1)];
            byte** includeNames = stackalloc byte*[Math.Max(nh, 1)];
            for (int i = 0; i < nh; i++)
            {
                headers[i] = Utf8(_headers[i].Text);
                includeNames[i] = Utf8(_headers[i].Name);
            }
            nint prog;
            Check(nvrtcCreateProgram(&prog, Utf8(source), Utf8(name), nh, headers, includeNames));
            program.Set(prog);

            byte** options = stackalloc byte*[_options.Length];
            for (int i = 0; i < _options.Length; i++) options[i] = Utf8(_options[i]);
            int status = nvrtcCompileProgram(prog, _options.Length, options);
            if (status != Success)
                throw Error(status, $"nvrtcCompileProgram({name}, {string.Join(' ', _options)})", ProgramLog(prog));

            nuint size;
            Check(nvrtcGetCUBINSize(prog, &size));
            var cubin = new byte[(int)size];
            fixed (byte* p = cubin) Check(nvrtcGetCUBIN(prog, p));
            return cubin;
        }
        finally
        {
            foreach (var h in pinned) h.Free();
        }
    }

    private static string ProgramLog(nint prog)
    {
        nuint size;
        if (nvrtcGetProgramLogSize(prog, &size) != Success || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log)
        {
            if (nvrtcGetProgramLog(prog, p) != Success) return "";
        }
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private string CacheKey(string source, int nvrtcMajor, int nvrtcMinor)
    {
        var sb = new StringBuilder();
        sb.Append("source\0").Append(source).Append('\0');
        foreach (var (n, t) in _headers) sb.Append("header\0").Append(n).Append('\0').Append(t).Append('\0');
        foreach (string o in _options) sb.Append("option\0").Append(o).Append('\0');
        sb.Append($"nvrtc\0{nvrtcMajor}.{nvrtcMinor}\0arch\0{Architecture}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static string[] ResourceFiles(string extension)
    {
        Assembly asm = typeof(KernelCompiler).Assembly;
        return [.. asm.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(extension, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..])
            .Order(StringComparer.Ordinal)];
    }
}

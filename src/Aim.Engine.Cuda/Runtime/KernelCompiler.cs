// Compiles the embedded Kernels/*.cu files with NVRTC to CUBIN for one architecture and caches the result
// on disk, keyed by SHA-256 of (source, headers, options, NVRTC version, architecture) as tinygrad's
// compile_cached does (ANCHORS.md 8.7, "Kernel compilation"). NVRTC needs no GPU. Files compile on threads of
// their own, each at most once per compiler, and Prefetch compiles the uncached ones side by side, so a first
// use waits for the slowest file instead of the sum of all (H200 machine, NVRTC 13: 37 s serial).
using System.Collections.Concurrent;
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

    /// <summary>How many files this compiler has run NVRTC on (the others came from the disk cache).</summary>
    public int NvrtcCompiles => Volatile.Read(ref _nvrtcCompiles);

    private int _nvrtcCompiles;
    private readonly ConcurrentDictionary<string, Lazy<Task<byte[]>>> _compiles = new(StringComparer.Ordinal);

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

    /// <summary>
    /// The CUBIN for <paramref name="file"/>: from the disk cache when an identical compile was done before, else
    /// from NVRTC. Each file is compiled at most once per compiler; callers asking for one being compiled (by
    /// <see cref="Prefetch"/> or another thread) wait for that compile. Failures are rethrown as they were raised.
    /// </summary>
    public byte[] Compile(string file) => CompileAsync(file).GetAwaiter().GetResult();

    /// <summary>
    /// <see cref="Compile"/> without waiting: the file's one compile, started now on a thread of its own if no one has
    /// asked for it before.
    /// </summary>
    public Task<byte[]> CompileAsync(string file)
        => _compiles.GetOrAdd(file, f => new Lazy<Task<byte[]>>(() => OnCompilerThread(f, () => CompileOrLoad(f)))).Value;

    /// <summary>The embedded kernel files whose CUBIN for this compiler is not in the disk cache, the longest sources first.</summary>
    public IReadOnlyList<string> UncachedFiles()
    {
        var (major, minor) = NvrtcVersion();
        return [.. KernelFiles
            .Select(f => (File: f, Source: ReadSource(f)))
            .Where(f => !File.Exists(CachePath(f.File, f.Source, major, minor)))
            .OrderByDescending(f => f.Source.Length)
            .Select(f => f.File)];
    }

    /// <summary>
    /// Starts compiling <paramref name="files"/> (default: <see cref="UncachedFiles"/>) in the background, in order,
    /// <paramref name="parallelism"/> at a time (default: one per processor). A file a caller needs meanwhile is
    /// compiled at once on its own thread rather than waiting for its turn. The returned task ends when all have
    /// finished; failures are not reported here but by <see cref="Compile"/> when the file is used.
    /// </summary>
    public Task Prefetch(IReadOnlyList<string>? files = null, int parallelism = 0) => Task.Run(() =>
    {
        var queue = new ConcurrentQueue<string>(files ?? UncachedFiles());
        int workers = Math.Min(queue.Count, parallelism > 0 ? parallelism : Environment.ProcessorCount);
        return Task.WhenAll(Enumerable.Range(0, workers).Select(_ => CompileInTurn(queue)));
    });

    // Compiles the queue's files one after another (a failure is left for Compile to rethrow to the file's user).
    private Task CompileInTurn(ConcurrentQueue<string> queue)
        => queue.TryDequeue(out string? file)
            ? CompileAsync(file).ContinueWith(_ => CompileInTurn(queue), TaskScheduler.Default).Unwrap()
            : Task.CompletedTask;

    private string CachePath(string file, string source, int nvrtcMajor, int nvrtcMinor)
        => Path.Combine(CacheDirectory, $"{Path.GetFileNameWithoutExtension(file)}-{CacheKey(source, nvrtcMajor, nvrtcMinor)[..32]}.cubin");

    private byte[] CompileOrLoad(string file)
    {
        string source = ReadSource(file);
        var (major, minor) = NvrtcVersion();
        string path = CachePath(file, source, major, minor);
        if (File.Exists(path)) return File.ReadAllBytes(path);
        var cubin = CompileOnThisThread(file, source);
        Interlocked.Increment(ref _nvrtcCompiles);
        try
        {
            Directory.CreateDirectory(CacheDirectory);
            string tmp = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
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
        => OnCompilerThread(name, () => CompileOnThisThread(name, source)).GetAwaiter().GetResult();

    // The compile on a dedicated thread (see CompileSource's remarks); the task ends with its result or exception.
    private static Task<byte[]> OnCompilerThread(string name, Func<byte[]> compile)
    {
        var done = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(compile());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, CompilerStackBytes)
        { Name = "nvrtc " + name, IsBackground = true };
        thread.Start();
        return done.Task;
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

// The CUDA implementation of IKernels: module loading (NVRTC-compiled CUBINs, cached per backend),
// launch helpers and the strided-view descriptors the .cu kernels take. One partial file per family.
using System.Runtime.InteropServices;
using System.Text;
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Kernels;

/// <summary>
/// A tensor view as the kernels see it (common.cuh's <c>Strided</c>): rank, shape and element strides, after
/// merging dimensions that are contiguous with each other and dropping size-1 ones.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StridedDesc
{
    public const int MaxDims = 8;
    public int Rank;
    public int Pad;
    public fixed long Shape[MaxDims];
    public fixed long Strides[MaxDims];

    /// <summary>Collapses (shape, stride) pairs in row-major order into a descriptor; <paramref name="op"/> names the caller in errors.</summary>
    public static StridedDesc Collapse(string op, ReadOnlySpan<int> shape, ReadOnlySpan<long> strides)
    {
        Span<long> s = stackalloc long[shape.Length];
        Span<long> st = stackalloc long[shape.Length];
        int r = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (r > 0 && st[r - 1] == strides[d] * shape[d])
            {
                s[r - 1] *= shape[d];
                st[r - 1] = strides[d];
                continue;
            }
            s[r] = shape[d];
            st[r] = strides[d];
            r++;
        }
        if (r > MaxDims)
            throw new NotSupportedException($"{op}: a view of {r} non-mergeable dimensions exceeds the CUDA kernels' {MaxDims}");
        var desc = new StridedDesc { Rank = Math.Max(r, 1) };
        desc.Shape[0] = 1;
        desc.Strides[0] = 1;
        for (int d = 0; d < r; d++)
        {
            desc.Shape[d] = s[d];
            desc.Strides[d] = st[d];
        }
        return desc;
    }

    /// <summary>The descriptor of a tensor view.</summary>
    public static StridedDesc Of(string op, Tensor t) => Collapse(op, t.Shape, t.Strides);
}

/// <summary>The kernels of the contract on one CUDA device.</summary>
/// <remarks>
/// Dtypes: Fill and Copy take every dtype (f32, f64, bf16, i32, i64) and cast between any pair. Elementwise
/// ops and SumTo take f32 and bf16 (bf16 computes in f32). Gemm takes f32, bf16 (f32 accumulation; an f32 result
/// for autocast) and f64.
/// Anything else throws <see cref="NotSupportedException"/> naming the op.
/// </remarks>
public sealed unsafe partial class CudaKernels : IKernels, IDisposable
{
    // Launch shape of the grid-stride elementwise kernels: a conventional choice, not tuned. On an H200
    // (Aim.Cuda.Check, 2026 session of the cuda branch) it gave 2.9 TB/s for a float32 add over 2^26
    // elements, about 2/3 of the 4.3 TB/s copy ceiling KINDS.md reports.
    private const int ElementwiseThreads = 256;
    private const int BlocksPerMultiprocessor = 32;

    private readonly CudaBackend _backend;
    private readonly Dictionary<string, CudaModuleHandle> _modules = new();
    private readonly Dictionary<string, nint> _functions = new();
    private readonly object _lock = new();

    internal CudaKernels(CudaBackend backend)
    {
        _backend = backend;
        ProgrammaticLaunch = ProgrammaticLaunchFromEnvironment && backend.Context.Major >= 9;
    }

    /// <inheritdoc />
    public string Name => "cuda";

    /// <summary>The backend these kernels run on.</summary>
    public CudaBackend Backend => _backend;

    /// <summary>Resolves a kernel, compiling and loading its file on first use.</summary>
    internal nint Function(string file, string name) => Resolve(file, name, () => _backend.Compiler.Compile(file));

    /// <summary>
    /// Resolves a kernel of a source that is not one of the embedded files (the diagnostic kernels of the CUDA checks),
    /// compiled with the embedded headers on first use and kept under <paramref name="module"/>.
    /// </summary>
    internal nint FunctionFromSource(string module, string source, string name)
        => Resolve(module, name, () => _backend.Compiler.CompileSource(module, source));

    private nint Resolve(string file, string name, Func<byte[]> compile)
    {
        string key = file + ":" + name;
        lock (_lock)
        {
            if (_functions.TryGetValue(key, out nint f)) return f;
            if (!_modules.TryGetValue(file, out var module))
            {
                byte[] cubin = compile();
                _backend.Context.MakeCurrent();
                module = new CudaModuleHandle(_backend.Context.Handle);
                nint m;
                fixed (byte* p = cubin) Check(cuModuleLoadData(&m, p));
                module.Set(m);
                _modules[file] = module;
            }
            byte[] utf8 = Encoding.UTF8.GetBytes(name + "\0");
            fixed (byte* pn = utf8) Check(cuModuleGetFunction(&f, module.DangerousGetHandle(), pn));
            _functions[key] = f;
            return f;
        }
    }

    /// <summary>
    /// The most dynamic shared memory a block of the kernel can take once it opts in: the device's per-block limit less
    /// the kernel's static shared memory (asked of the driver once per function).
    /// </summary>
    internal int DynamicSharedLimit(nint function)
    {
        lock (_lock)
        {
            if (_dynamicShared.TryGetValue(function, out var known)) return known.Limit;
            int staticBytes;
            Check(cuFuncGetAttribute(&staticBytes, FuncAttrSharedSizeBytes, function));
            int limit = _backend.Context.MaxSharedMemoryPerBlock - staticBytes;
            _dynamicShared[function] = (limit, DefaultDynamicSharedBytes);
            return limit;
        }
    }

    /// <summary>
    /// Lets a kernel take <paramref name="bytes"/> (at most <see cref="DynamicSharedLimit"/>) of dynamic shared memory:
    /// above the default 48 KiB a kernel must opt in (once per function; raised when a later launch needs more).
    /// </summary>
    internal void AllowDynamicShared(nint function, int bytes)
    {
        if (bytes <= DefaultDynamicSharedBytes) return;
        int limit = DynamicSharedLimit(function);
        lock (_lock)
        {
            if (_dynamicShared[function].Allowed >= bytes) return;
            Check(cuFuncSetAttribute(function, FuncAttrMaxDynamicSharedSizeBytes, bytes));
            _dynamicShared[function] = (limit, bytes);
        }
    }

    private const int DefaultDynamicSharedBytes = 48 * 1024;
    // Per kernel: its dynamic shared memory limit and what it is allowed now.
    private readonly Dictionary<nint, (int Limit, int Allowed)> _dynamicShared = [];

    /// <summary>
    /// Whether kernels recorded into a CUDA graph are launched as programmatic dependent launches (sm_90 and up): each
    /// may be scheduled while its predecessor drains, and waits for it in its first instruction (AIM_PDL_PROLOGUE in
    /// common.cuh, which every kernel starts with), so the graph's kernel-to-kernel gaps shrink. Results are the
    /// same either way. On by default where supported; AIM_PDL=0 (read once per process) turns it off.
    /// </summary>
    public bool ProgrammaticLaunch { get; set; }

    private static readonly bool ProgrammaticLaunchFromEnvironment = Environment.GetEnvironmentVariable("AIM_PDL") != "0";

    /// <summary>Launches on the backend's stream.</summary>
    internal void Launch(nint function, uint grid, uint block, uint sharedBytes, scoped in KernelArgs args)
    {
        _backend.Context.MakeCurrent();
        if (ProgrammaticLaunch && _backend.IsCapturing)
        {
            var attribute = new LaunchAttribute { Id = LaunchAttributeProgrammaticStreamSerialization, Value = 1 };
            var config = new LaunchConfig
            {
                GridX = grid, GridY = 1, GridZ = 1, BlockX = block, BlockY = 1, BlockZ = 1, SharedMemBytes = sharedBytes,
                Stream = _backend.Stream, Attributes = &attribute, AttributeCount = 1,
            };
            Check(cuLaunchKernelEx(&config, function, args.Pointer, null));
            return;
        }
        Check(cuLaunchKernel(function, grid, 1, 1, block, 1, 1, sharedBytes, _backend.Stream, args.Pointer, null));
    }

    /// <summary>Launches a grid-stride elementwise kernel over <paramref name="n"/> elements.</summary>
    internal void LaunchElementwise(nint function, long n, scoped in KernelArgs args)
    {
        if (n == 0) return;
        long blocks = Math.Min((n + ElementwiseThreads - 1) / ElementwiseThreads, (long)_backend.Context.MultiprocessorCount * BlocksPerMultiprocessor);
        Launch(function, (uint)Math.Max(blocks, 1), ElementwiseThreads, 0, args);
    }

    /// <summary>Throws unless every tensor lives on this backend's device.</summary>
    internal void OnDevice(string op, params ReadOnlySpan<Tensor> tensors)
    {
        foreach (var t in tensors)
            if (t.Device != _backend.Device)
                throw new ArgumentException($"{op}: tensor {Tensor.ShapeString(t.Shape)} is on {t.Device}, the kernels run on {_backend.Device}");
    }

    /// <summary>The kernel-name suffix of a dtype ("f32", "bf16", ...).</summary>
    internal static string Suffix(DType dtype) => dtype.ShortName();

    /// <summary>Throws <see cref="NotSupportedException"/> unless the dtype is f32 or bf16.</summary>
    internal static void FloatCompute(string op, DType dtype)
    {
        if (dtype is not (DType.Float32 or DType.BFloat16)) throw KernelChecks.Unsupported(op, "cuda", dtype);
    }

    /// <summary>The device address of element [0,...,0].</summary>
    internal static ulong Ptr(Tensor t) => (ulong)t.DataPointer;

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _functions.Clear();
            _dynamicShared.Clear();
            foreach (var m in _modules.Values) m.Dispose();
            _modules.Clear();
            _cublas?.Dispose();
            _cublas = null;
            if (_cublasWorkspace != 0) _backend.Allocator.Free(_cublasWorkspace, CuBlasWorkspaceBytes);
            _cublasWorkspace = 0;
        }
    }
}

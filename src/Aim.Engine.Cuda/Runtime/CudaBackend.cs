// The CUDA backend: one device's primary context, a stream, the caching allocator and the CUDA kernels.
// Registers itself with Backend for DeviceKind.Cuda (CudaBackend.Initialize).
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>
/// One CUDA device as an <see cref="IBackend"/>. All work goes to one non-blocking stream; host copies
/// synchronise that stream (host memory here is pageable, and results must be complete when read).
/// </summary>
public sealed unsafe class CudaBackend : IBackend, IDisposable
{
    private static readonly Lazy<(bool Available, string Reason)> s_probe = new(Probe);
    private static readonly object s_registerLock = new();
    private static bool s_registered;

    private readonly CudaStreamHandle _stream;
    private readonly CudaKernels _kernels;
    private bool _disposed;

    /// <summary>Opens device <paramref name="ordinal"/> (normally through <see cref="Backend.For"/> after <see cref="Initialize"/>).</summary>
    public CudaBackend(int ordinal)
    {
        Context = CudaContext.Create(ordinal);
        Device = Tensors.Device.Cuda(ordinal);
        _stream = new CudaStreamHandle(Context.Handle);
        nint s;
        Check(cuStreamCreate(&s, StreamNonBlocking));
        _stream.Set(s);
        Allocator = new CudaAllocator(Context, s);
        Compiler = new KernelCompiler(Context.Architecture);
        // Kernels not yet in the disk cache compile in the background, side by side, while the caller loads
        // weights: a first run waits for the slowest file, not for all of them one after another.
        try
        {
            var uncached = Compiler.UncachedFiles();
            KernelFilesCompiling = uncached.Count;
            _ = Compiler.Prefetch(uncached);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CudaException)
        {
            // No usable NVRTC: the first kernel a caller needs reports it, with the reason.
        }
        _kernels = new CudaKernels(this);
    }

    /// <summary>How many kernel files were missing from the disk cache when this backend opened (compiling in the background).</summary>
    public int KernelFilesCompiling { get; }

    /// <summary>True when the driver loads, initialises and reports at least one device.</summary>
    public static bool IsAvailable => s_probe.Value.Available;

    /// <summary>Why <see cref="IsAvailable"/> is false ("" when it is true).</summary>
    public static string UnavailableReason => s_probe.Value.Reason;

    /// <summary>The device this backend serves.</summary>
    public Device Device { get; }

    /// <summary>The device's primary context.</summary>
    public CudaContext Context { get; }

    /// <summary>The device memory allocator.</summary>
    public CudaAllocator Allocator { get; }

    /// <summary>The NVRTC compiler for this device's architecture.</summary>
    public KernelCompiler Compiler { get; }

    /// <summary>The stream every operation of this backend is queued on.</summary>
    public nint Stream => _stream.DangerousGetHandle();

    /// <inheritdoc />
    public IKernels Kernels => _kernels;

    /// <summary>The CUDA kernels with their CUDA-only settings (TF32 policy).</summary>
    public CudaKernels CudaKernels => _kernels;

    /// <summary>Registers the CUDA backend factory with <see cref="Backend"/> (idempotent). Throws when no device is available.</summary>
    public static void Initialize()
    {
        if (!IsAvailable) throw new InvalidOperationException($"CUDA is not available: {UnavailableReason}");
        lock (s_registerLock)
        {
            if (s_registered) return;
            Backend.Register(DeviceKind.Cuda, ordinal => new CudaBackend(ordinal));
            s_registered = true;
        }
    }

    /// <summary>The registered backend of <paramref name="device"/> (initialising the registration if needed).</summary>
    public static CudaBackend For(Device device)
    {
        Initialize();
        return (CudaBackend)Backend.For(device);
    }

    /// <inheritdoc />
    public Storage Allocate(long byteLength, bool zero)
    {
        ulong p = Allocator.Allocate(byteLength);
        if (zero && byteLength > 0)
        {
            Context.MakeCurrent();
            Check(cuMemsetD8Async(p, 0, (nuint)byteLength, Stream));
        }
        return new CudaStorage(Device, Allocator, p, byteLength);
    }

    /// <inheritdoc />
    public void CopyFromHost(nint hostSource, nint destination, long byteLength)
    {
        if (byteLength == 0) return;
        Context.MakeCurrent();
        Check(cuMemcpyHtoDAsync((ulong)destination, (void*)hostSource, (nuint)byteLength, Stream));
        Check(cuStreamSynchronize(Stream));
    }

    /// <inheritdoc />
    public void CopyToHost(nint source, nint hostDestination, long byteLength)
    {
        if (byteLength == 0) return;
        Context.MakeCurrent();
        Check(cuMemcpyDtoHAsync((void*)hostDestination, (ulong)source, (nuint)byteLength, Stream));
        Check(cuStreamSynchronize(Stream));
    }

    /// <summary>True while a graph is being captured on this backend's stream: kernels then skip host-side checks that read device memory.</summary>
    public bool IsCapturing { get; internal set; }

    /// <inheritdoc />
    public RecordedWork Record(Action body) => CudaGraph.Capture(this, body);

    /// <summary>Waits until all queued work of this backend is done; surfaces asynchronous kernel errors.</summary>
    public void Synchronize()
    {
        Context.MakeCurrent();
        Check(cuStreamSynchronize(Stream));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Context.MakeCurrent();
        Check(cuStreamSynchronize(Stream));
        _kernels.Dispose();
        Allocator.Dispose();
        _stream.Dispose();
        Context.Dispose();
    }

    private static (bool, string) Probe()
    {
        try
        {
            int status = cuInit(0);
            if (status == ErrorNoDevice) return (false, "the CUDA driver reports no device");
            if (status != Success) return (false, Error(status, "cuInit(0)").Message);
            int count;
            status = cuDeviceGetCount(&count);
            if (status != Success) return (false, Error(status, "cuDeviceGetCount(&count)").Message);
            return count > 0 ? (true, "") : (false, "the CUDA driver reports no device");
        }
        catch (DllNotFoundException e)
        {
            return (false, $"the CUDA driver library could not be loaded ({e.Message.Split('\n')[0].TrimEnd()})");
        }
        catch (EntryPointNotFoundException e)
        {
            return (false, $"the CUDA driver library is too old ({e.Message})");
        }
    }
}

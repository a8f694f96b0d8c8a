using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends;

/// <summary>What a device offers the engine: memory and the kernels of the contract.</summary>
public interface IBackend
{
    /// <summary>The kernels that run on this device.</summary>
    IKernels Kernels { get; }

    /// <summary>Allocates device memory.</summary>
    Storage Allocate(long byteLength, bool zero);

    /// <summary>Copies <paramref name="byteLength"/> bytes from host memory to this device (or host to host).</summary>
    void CopyFromHost(nint hostSource, nint destination, long byteLength);

    /// <summary>Copies <paramref name="byteLength"/> bytes from this device to host memory.</summary>
    void CopyToHost(nint source, nint hostDestination, long byteLength);

    /// <summary>Records the device work <paramref name="body"/> queues, for replay (rules on <see cref="RecordedWork"/>).</summary>
    RecordedWork Record(Action body);

    /// <summary>Waits until all queued work of this device is done (a no-op on the CPU).</summary>
    void Synchronize();
}

/// <summary>
/// Maps devices to backends. The CPU backend is always present; the CUDA assembly registers itself
/// when it is initialised. Ops pick kernels by the device of their inputs.
/// </summary>
public static class Backend
{
    private static readonly Dictionary<DeviceKind, Func<int, IBackend>> s_factories = new();
    private static readonly Dictionary<Device, IBackend> s_backends = new();
    private static readonly object s_lock = new();
    [ThreadStatic] private static Dictionary<Device, IKernels>? t_overrides;

    /// <summary>The CPU backend (SIMD, multi-threaded kernels).</summary>
    public static CpuBackend Cpu { get; } = new();

    /// <summary>Registers a factory for a device kind (called by the CUDA assembly).</summary>
    public static void Register(DeviceKind kind, Func<int, IBackend> factory)
    {
        lock (s_lock) s_factories[kind] = factory;
    }

    /// <summary>The backend for <paramref name="device"/>.</summary>
    public static IBackend For(Device device)
    {
        if (device.Kind == DeviceKind.Cpu) return Cpu;
        lock (s_lock)
        {
            if (s_backends.TryGetValue(device, out var b)) return b;
            if (!s_factories.TryGetValue(device.Kind, out var f))
                throw new InvalidOperationException($"no backend for {device}: the CUDA backend is not initialised (call CudaBackend.Initialize)");
            b = f(device.Index);
            s_backends[device] = b;
            return b;
        }
    }

    /// <summary>Records the work <paramref name="body"/> queues on <paramref name="device"/> for replay (see <see cref="RecordedWork"/>).</summary>
    public static RecordedWork Record(Device device, Action body) => For(device).Record(body);

    /// <summary>The kernels ops use for tensors on <paramref name="device"/> (this thread's override, if any).</summary>
    public static IKernels Kernels(Device device)
    {
        var overrides = t_overrides;
        if (overrides is { Count: > 0 } && overrides.TryGetValue(device, out var kernels)) return kernels;
        return device.Kind == DeviceKind.Cpu ? Cpu.Kernels : For(device).Kernels;
    }

    /// <summary>
    /// Routes ops on <paramref name="device"/> made by this thread through <paramref name="kernels"/> (e.g. the
    /// reference, or a profiling proxy) until disposed; disposing restores what this thread used before. Dispose on
    /// the thread that opened it, innermost first.
    /// </summary>
    public static IDisposable UseKernels(Device device, IKernels kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        var overrides = t_overrides ??= new Dictionary<Device, IKernels>();
        bool had = overrides.TryGetValue(device, out var previous);
        overrides[device] = kernels;
        return new Restore(() =>
        {
            if (had) overrides[device] = previous!;
            else overrides.Remove(device);
        });
    }

    /// <summary>Routes CPU ops on this thread through <paramref name="kernels"/> until disposed (<see cref="UseKernels"/> for the CPU).</summary>
    public static IDisposable UseCpuKernels(IKernels kernels) => UseKernels(Device.Cpu, kernels);

    private sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

/// <summary>The host backend.</summary>
public sealed unsafe class CpuBackend : IBackend
{
    /// <inheritdoc />
    public IKernels Kernels { get; } = new Cpu.CpuKernels();

    /// <inheritdoc />
    public Storage Allocate(long byteLength, bool zero) => CpuStorage.Allocate(byteLength, zero);

    /// <inheritdoc />
    public void CopyFromHost(nint hostSource, nint destination, long byteLength)
        => Buffer.MemoryCopy((void*)hostSource, (void*)destination, byteLength, byteLength);

    /// <inheritdoc />
    public void CopyToHost(nint source, nint hostDestination, long byteLength)
        => Buffer.MemoryCopy((void*)source, (void*)hostDestination, byteLength, byteLength);

    /// <inheritdoc />
    public RecordedWork Record(Action body) => new EagerWork(body);

    /// <inheritdoc />
    public void Synchronize()
    {
    }
}

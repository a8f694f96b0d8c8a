// A CUDA event on the backend's stream, for timing device work (METHOD.md: time with device events).
using Aim.Engine.Cuda.Interop;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>An event recorded on a backend's stream; <see cref="ElapsedMilliseconds"/> times the work between two.</summary>
public sealed unsafe class CudaEvent : IDisposable
{
    private readonly CudaBackend _backend;
    private readonly CudaEventHandle _handle;

    /// <summary>Creates an event in the backend's context.</summary>
    public CudaEvent(CudaBackend backend)
    {
        _backend = backend;
        backend.Context.MakeCurrent();
        _handle = new CudaEventHandle(backend.Context.Handle);
        nint e;
        Check(cuEventCreate(&e, EventDefault));
        _handle.Set(e);
    }

    /// <summary>Records the event after the work queued so far.</summary>
    public void Record()
    {
        _backend.Context.MakeCurrent();
        Check(cuEventRecord(_handle.DangerousGetHandle(), _backend.Stream));
    }

    /// <summary>Milliseconds of device time from <paramref name="start"/> to <paramref name="end"/> (waits for end).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        end._backend.Context.MakeCurrent();
        Check(cuEventSynchronize(end._handle.DangerousGetHandle()));
        float ms;
        Check(cuEventElapsedTime(&ms, start._handle.DangerousGetHandle(), end._handle.DangerousGetHandle()));
        return ms;
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}

// Stream capture into a CUDA graph (RecordedWork on the GPU): the decode step is recorded once and replayed
// once per token, so the host queues one launch per step instead of hundreds.
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>An instantiated CUDA graph and the device memory its recorded kernels use.</summary>
internal sealed unsafe class CudaGraph : RecordedWork
{
    private readonly CudaBackend _backend;
    private readonly CudaGraphExecHandle _exec;
    private readonly CudaAllocator.GraphPool _pool;
    private bool _disposed;

    private CudaGraph(CudaBackend backend, CudaGraphExecHandle exec, CudaAllocator.GraphPool pool)
    {
        _backend = backend;
        _exec = exec;
        _pool = pool;
    }

    /// <summary>
    /// Captures what <paramref name="body"/> queues on the backend's stream. The body's temporaries are freed when
    /// it returns and their blocks stay in the graph's pool. Kernels skip host-side checks that would synchronise
    /// (<see cref="CudaBackend.IsCapturing"/>), so run the body once eagerly first: that also compiles every kernel
    /// (module loading is not allowed while capturing).
    /// </summary>
    public static CudaGraph Capture(CudaBackend backend, Action body)
    {
        var pool = backend.Allocator.BeginCapture();
        nint graph = 0;
        try
        {
            backend.Context.MakeCurrent();
            // Relaxed mode: a cache miss in the allocator may call cuMemAlloc while capturing (it queues nothing on the
            // stream; the block then belongs to the graph's pool like any other).
            Check(cuStreamBeginCapture(backend.Stream, StreamCaptureModeRelaxed));
            backend.IsCapturing = true;
            Exception? failure = null;
            try
            {
                using var scope = TensorScope.Open();
                body();
            }
            catch (Exception e)
            {
                failure = e;
            }
            // Always end the capture, also when the body threw, so the stream is usable again.
            backend.IsCapturing = false;
            int ended = cuStreamEndCapture(backend.Stream, &graph);
            backend.Allocator.EndCapture();
            if (failure is not null) throw new InvalidOperationException($"recording a CUDA graph failed: {failure.Message}", failure);
            Check(ended, "cuStreamEndCapture(stream, &graph)");
            var exec = new CudaGraphExecHandle(backend.Context.Handle);
            nint raw;
            Check(cuGraphInstantiateWithFlags(&raw, graph, 0));
            exec.Set(raw);
            return new CudaGraph(backend, exec, pool);
        }
        catch
        {
            backend.Allocator.EndCapture();
            pool.Dispose();
            throw;
        }
        finally
        {
            if (graph != 0) Check(cuGraphDestroy(graph));
        }
    }

    /// <inheritdoc />
    public override void Replay()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _backend.Context.MakeCurrent();
        Check(cuGraphLaunch(_exec.DangerousGetHandle(), _backend.Stream));
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Replays may still be queued: let them finish before the graph and its memory go.
        _backend.Synchronize();
        _exec.Dispose();
        _pool.Dispose();
        base.Dispose();
    }
}

// A caching device allocator: blocks are rounded to size buckets and returned to per-bucket free lists
// instead of cuMemFree, so steady-state training and sampling allocate nothing from the driver. The idea
// is PyTorch's CUDA caching allocator, much simplified (no block splitting, one stream).
using Aim.Engine.Cuda.Interop;
using static Aim.Engine.Cuda.Interop.CudaDriver;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>
/// Size-bucketed caching allocator for one context and one stream.
/// </summary>
/// <remarks>
/// Stream ordering: every kernel, copy and cuBLAS call of the backend runs on the one stream this allocator
/// serves, so a block freed while queued work still reads it can be handed out at once: any later use is
/// queued behind that work on the same stream. Work on another stream would need an event per block.
/// Buckets: 512 bytes minimum; powers of two up to 1 MiB; multiples of 2 MiB above. When the driver runs
/// out of memory the cache is emptied (after a stream synchronize) and the allocation retried once.
/// Graphs: while a CUDA graph is captured, every block handed out joins that graph's pool; freed pool blocks
/// return to the pool, not to the shared free lists, because replays keep writing them. Disposing the pool
/// gives its blocks back to the shared cache.
/// </remarks>
public sealed unsafe class CudaAllocator : IDisposable
{
    private const long MinBlock = 512;
    private const long SmallLimit = 1L << 20;
    private const long LargeGranule = 2L << 20;

    private readonly CudaContext _context;
    private readonly nint _stream;
    private readonly Dictionary<long, Stack<ulong>> _free = new();
    private readonly Dictionary<ulong, GraphPool> _poolOf = new();
    private readonly object _lock = new();
    private GraphPool? _capturing;
    private long _driverBytes;
    private bool _disposed;

    internal CudaAllocator(CudaContext context, nint stream)
    {
        _context = context;
        _stream = stream;
    }

    /// <summary>Bytes in blocks handed out and not yet freed.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>Bytes in blocks kept in the free lists.</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Number of cuMemAlloc calls made (a steady state stops increasing this).</summary>
    public long DriverAllocations { get; private set; }

    /// <summary>Bytes kept for captured graphs (their pools' free blocks).</summary>
    public long GraphReservedBytes { get; private set; }

    /// <summary>The most bytes in use at once (handed out plus reserved for graphs) since the last <see cref="ResetPeak"/>.</summary>
    public long PeakInUseBytes { get; private set; }

    /// <summary>The most bytes held from the driver at once (in use plus cached) since the last <see cref="ResetPeak"/>.</summary>
    public long PeakDriverBytes { get; private set; }

    /// <summary>Starts the peak counters from the current use.</summary>
    public void ResetPeak()
    {
        lock (_lock)
        {
            PeakInUseBytes = LiveBytes + GraphReservedBytes;
            PeakDriverBytes = _driverBytes;
        }
    }

    /// <summary>The block size a request of <paramref name="bytes"/> gets.</summary>
    public static long BlockSize(long bytes)
    {
        if (bytes <= MinBlock) return MinBlock;
        if (bytes <= SmallLimit) return (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)bytes);
        return (bytes + LargeGranule - 1) / LargeGranule * LargeGranule;
    }

    /// <summary>A device block of at least <paramref name="bytes"/>; the block's size is <see cref="BlockSize"/>.</summary>
    public ulong Allocate(long bytes)
    {
        long size = BlockSize(bytes);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ulong block = TakeLocked(size);
            if (_capturing is { } pool) _poolOf[block] = pool;
            PeakInUseBytes = Math.Max(PeakInUseBytes, LiveBytes + GraphReservedBytes);
            return block;
        }
    }

    private ulong TakeLocked(long size)
    {
        if (_capturing is { } pool && pool.Free.TryGetValue(size, out var own) && own.Count > 0)
        {
            GraphReservedBytes -= size;
            LiveBytes += size;
            return own.Pop();
        }
        if (_free.TryGetValue(size, out var list) && list.Count > 0)
        {
            CachedBytes -= size;
            LiveBytes += size;
            return list.Pop();
        }
        _context.MakeCurrent();
        ulong p;
        int status = cuMemAlloc(&p, (nuint)size);
        if (status == ErrorOutOfMemory)
        {
            ReleaseCachedLocked();
            status = cuMemAlloc(&p, (nuint)size);
        }
        if (status != Success) throw Error(status, $"cuMemAlloc(&p, {size})");
        DriverAllocations++;
        LiveBytes += size;
        _driverBytes += size;
        PeakDriverBytes = Math.Max(PeakDriverBytes, _driverBytes);
        return p;
    }

    /// <summary>Returns a block to its free list (the stream-ordered reuse rule is in the remarks).</summary>
    public void Free(ulong pointer, long bytes)
    {
        long size = BlockSize(bytes);
        lock (_lock)
        {
            // Storage outliving the backend: the context's memory is gone with it.
            if (_disposed) return;
            LiveBytes -= size;
            if (_poolOf.TryGetValue(pointer, out var pool))
            {
                if (!pool.Disposed)
                {
                    GraphReservedBytes += size;
                    if (!pool.Free.TryGetValue(size, out var own)) pool.Free[size] = own = new Stack<ulong>();
                    own.Push(pointer);
                    return;
                }
                _poolOf.Remove(pointer);
            }
            PushFreeLocked(pointer, size);
        }
    }

    private void PushFreeLocked(ulong pointer, long size)
    {
        CachedBytes += size;
        if (!_free.TryGetValue(size, out var list)) _free[size] = list = new Stack<ulong>();
        list.Push(pointer);
    }

    /// <summary>From now until <see cref="EndCapture"/>, blocks handed out join a new graph pool, which is returned.</summary>
    internal GraphPool BeginCapture()
    {
        lock (_lock)
        {
            if (_capturing is not null) throw new InvalidOperationException("a CUDA graph is already being captured");
            return _capturing = new GraphPool(this);
        }
    }

    /// <summary>Stops adding blocks to the capturing pool.</summary>
    internal void EndCapture()
    {
        lock (_lock) _capturing = null;
    }

    /// <summary>Gives a graph pool's free blocks back to the shared cache; its live blocks follow when freed.</summary>
    private void ReleasePool(GraphPool pool)
    {
        lock (_lock)
        {
            if (pool.Disposed) return;
            pool.Disposed = true;
            if (_capturing == pool) _capturing = null;
            foreach (var (size, list) in pool.Free)
                while (list.Count > 0)
                {
                    ulong p = list.Pop();
                    _poolOf.Remove(p);
                    GraphReservedBytes -= size;
                    if (!_disposed) PushFreeLocked(p, size);
                }
        }
    }

    /// <summary>The blocks a captured graph uses; disposing it returns them to the shared cache.</summary>
    internal sealed class GraphPool(CudaAllocator owner) : IDisposable
    {
        public Dictionary<long, Stack<ulong>> Free { get; } = new();

        public bool Disposed { get; set; }

        public void Dispose() => owner.ReleasePool(this);
    }

    /// <summary>Gives every cached block back to the driver.</summary>
    public void ReleaseCached()
    {
        lock (_lock) ReleaseCachedLocked();
    }

    private void ReleaseCachedLocked()
    {
        _context.MakeCurrent();
        Check(cuStreamSynchronize(_stream));
        foreach (var (size, list) in _free)
            while (list.Count > 0)
            {
                Check(cuMemFree(list.Pop()));
                _driverBytes -= size;
            }
        CachedBytes = 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            ReleaseCachedLocked();
            _disposed = true;
        }
    }
}

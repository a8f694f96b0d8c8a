// Holds: a reference-counted, read-only (copy-on-write) memory mapping of a whole file, the owner behind
// the BorrowedCpuStorage of every tensor the safetensors reader hands out.
using System.IO.MemoryMappedFiles;

namespace Aim.Engine.IO;

/// <summary>
/// A whole file mapped into memory. Each tensor storage borrowing from it holds one <see cref="Lease"/>;
/// the mapping is unmapped when the opener and every lease have let go. The mapping is private
/// copy-on-write: writing to a loaded tensor changes process memory only, never the file.
/// </summary>
internal sealed unsafe class MappedFile
{
    private static long s_live;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private int _references = 1;

    private MappedFile(MemoryMappedFile file, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        _file = file;
        _view = view;
        Pointer = (nint)pointer;
        Length = length;
        Interlocked.Increment(ref s_live);
    }

    /// <summary>Mappings currently open in this process (for leak tests).</summary>
    public static long LiveCount => Interlocked.Read(ref s_live);

    /// <summary>Address of byte 0 of the file.</summary>
    public nint Pointer { get; private set; }

    /// <summary>File size in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="path"/> (which must be non-empty); the caller holds the first reference.</summary>
    public static MappedFile Open(string path, long length)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: false);
            view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.CopyOnWrite);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(file, view, p + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            if (file is null) stream.Dispose();
            else file.Dispose();
            throw;
        }
    }

    /// <summary>Takes a reference released by disposing the returned lease (once).</summary>
    public IDisposable Lease()
    {
        if (Interlocked.Increment(ref _references) <= 1)
            throw new ObjectDisposedException(nameof(MappedFile), "the mapping was already released");
        return new LeaseHandle(this);
    }

    /// <summary>Drops one reference; the last one unmaps the file.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        Pointer = 0;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
        Interlocked.Decrement(ref s_live);
    }

    private sealed class LeaseHandle(MappedFile owner) : IDisposable
    {
        private MappedFile? _owner = owner;

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}

// Builds the void** parameter array of cuLaunchKernel on the stack (ANCHORS.md 8.7, "Launch").
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aim.Engine.Cuda.Runtime;

/// <summary>
/// The arguments of one kernel launch: each value is copied into a caller-provided stack buffer (8-byte
/// aligned slots) and its address stored in the pointer array the driver reads. Both buffers must come from
/// <c>stackalloc</c> (not movable by the GC): <c>new KernelArgs(stackalloc byte[512], stackalloc nint[16])</c>.
/// </summary>
internal unsafe ref struct KernelArgs
{
    private readonly Span<byte> _values;
    private readonly Span<nint> _pointers;
    private int _used;

    public KernelArgs(Span<byte> values, Span<nint> pointers)
    {
        _values = values;
        _pointers = pointers;
        _used = 0;
        Count = 0;
    }

    /// <summary>Number of arguments added.</summary>
    public int Count { get; private set; }

    /// <summary>Appends one argument by value (pointers as <c>ulong</c>, scalars, or a by-value struct).</summary>
    public void Add<T>(T value) where T : unmanaged
    {
        int at = (_used + 7) & ~7;
        int size = sizeof(T);
        if (at + size > _values.Length || Count >= _pointers.Length)
            throw new InvalidOperationException($"KernelArgs: buffers too small for argument {Count} ({size} bytes)");
        MemoryMarshal.Write(_values[at..], in value);
        _pointers[Count++] = (nint)Unsafe.AsPointer(ref _values[at]);
        _used = at + size;
    }

    /// <summary>The void** array for cuLaunchKernel.</summary>
    public readonly void** Pointer => (void**)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_pointers));
}

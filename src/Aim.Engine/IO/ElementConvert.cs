// Holds: widening conversions for on-disk element types the engine has no DType for
// (float16 -> float32 exactly via System.Half; bool/uint8/int8/int16/uint16 -> int32).
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>An element type found in a checkpoint, possibly one the engine stores under a wider DType.</summary>
internal enum FileElement
{
    F32,
    F64,
    BF16,
    I32,
    I64,
    F16,
    Bool,
    U8,
    I8,
    I16,
    U16,
}

/// <summary>Sizes, engine dtypes and widening copies for <see cref="FileElement"/>.</summary>
internal static unsafe class ElementConvert
{
    /// <summary>Bytes per element on disk.</summary>
    public static int SizeOf(FileElement e) => e switch
    {
        FileElement.F64 or FileElement.I64 => 8,
        FileElement.F32 or FileElement.I32 => 4,
        FileElement.BF16 or FileElement.F16 or FileElement.I16 or FileElement.U16 => 2,
        _ => 1,
    };

    /// <summary>The DType a tensor of this element type gets in the engine.</summary>
    public static DType EngineType(FileElement e) => e switch
    {
        FileElement.F32 or FileElement.F16 => DType.Float32,
        FileElement.F64 => DType.Float64,
        FileElement.BF16 => DType.BFloat16,
        FileElement.I64 => DType.Int64,
        _ => DType.Int32,
    };

    /// <summary>True when the bytes on disk are exactly the engine's layout (no conversion needed).</summary>
    public static bool IsNative(FileElement e) => e is FileElement.F32 or FileElement.F64 or FileElement.BF16 or FileElement.I32 or FileElement.I64;

    /// <summary>Converts <paramref name="count"/> elements at <paramref name="source"/> into a new host storage of the engine dtype.</summary>
    public static CpuStorage Widen(FileElement e, byte* source, long count)
    {
        var storage = CpuStorage.Allocate(count * EngineType(e).SizeOf(), zero: false);
        if (e == FileElement.F16)
        {
            var src = (ushort*)source;
            var dst = (float*)storage.Pointer;
            for (long i = 0; i < count; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(src[i]);
            return storage;
        }
        var d = (int*)storage.Pointer;
        switch (e)
        {
            case FileElement.Bool:
                for (long i = 0; i < count; i++) d[i] = source[i] != 0 ? 1 : 0;
                break;
            case FileElement.U8:
                for (long i = 0; i < count; i++) d[i] = source[i];
                break;
            case FileElement.I8:
                for (long i = 0; i < count; i++) d[i] = (sbyte)source[i];
                break;
            case FileElement.I16:
                for (long i = 0; i < count; i++) d[i] = ((short*)source)[i];
                break;
            case FileElement.U16:
                for (long i = 0; i < count; i++) d[i] = ((ushort*)source)[i];
                break;
            default:
                storage.Release();
                throw new ArgumentOutOfRangeException(nameof(e), e, "element type needs no widening");
        }
        return storage;
    }
}

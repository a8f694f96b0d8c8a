// Holds: the safetensors writer (same format as SafetensorsFile reads). Header padded with spaces so the
// data section starts 8-byte aligned; tensors laid out back to back in ordinal name order; written to a
// temporary file in the target folder and renamed over the target, so readers never see a partial file.
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using Aim.Engine.Tensors;

namespace Aim.Engine.IO;

/// <summary>Writes tensors to a safetensors file.</summary>
public static unsafe class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout: each is copied to host in row-major order)
    /// to <paramref name="path"/> atomically. Names must be unique and not <c>__metadata__</c>.
    /// </summary>
    /// <param name="path">Target file; replaced if it exists.</param>
    /// <param name="tensors">Named tensors; written in ordinal name order.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> strings.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i].Key == "__metadata__") throw new ArgumentException("SafetensorsWriter.Write: '__metadata__' is reserved and cannot name a tensor", nameof(tensors));
            if (i > 0 && list[i].Key == list[i - 1].Key) throw new ArgumentException($"SafetensorsWriter.Write: duplicate tensor name '{list[i].Key}'", nameof(tensors));
            ArgumentNullException.ThrowIfNull(list[i].Value);
        }

        byte[] header = BuildHeader(list, metadata);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach (var (_, t) in list) WriteData(fs, t);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>The safetensors dtype string for an engine dtype.</summary>
    public static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.BFloat16 => "BF16",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no safetensors name"),
    };

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> list, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long bytes = t.Count * t.DType.SizeOf();
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int length = (int)ms.Length;
        int padded = (length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        ms.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static void WriteData(FileStream fs, Tensor t)
    {
        long bytes = t.Count * t.DType.SizeOf();
        if (bytes == 0) return;
        Tensor? host = t.Device.Kind == DeviceKind.Cpu && t.IsContiguous ? null : TensorScope.Detach(t.To(Device.Cpu));
        try
        {
            byte* p = (byte*)(host ?? t).DataPointer;
            for (long done = 0; done < bytes;)
            {
                int chunk = (int)Math.Min(bytes - done, 1 << 30);
                fs.Write(new ReadOnlySpan<byte>(p + done, chunk));
                done += chunk;
            }
        }
        finally
        {
            host?.Dispose();
        }
    }
}

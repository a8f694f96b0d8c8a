namespace Aim.Engine.Tensors;

/// <summary>Kinds of device a tensor's storage can live on.</summary>
public enum DeviceKind
{
    Cpu,
    Cuda,
}

/// <summary>A device: kind plus ordinal (always 0 for the CPU).</summary>
public readonly record struct Device(DeviceKind Kind, int Index)
{
    /// <summary>The host.</summary>
    public static Device Cpu { get; } = new(DeviceKind.Cpu, 0);

    /// <summary>CUDA device <paramref name="index"/>.</summary>
    public static Device Cuda(int index = 0) => new(DeviceKind.Cuda, index);

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda" || t == "gpu") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int i) && i >= 0) return Cuda(i);
        throw new ArgumentException($"unknown device '{text}' (expected cpu, cuda or cuda:N)");
    }

    /// <inheritdoc />
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";
}

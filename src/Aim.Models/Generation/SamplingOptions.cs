using Aim.Models.Stage2;

namespace Aim.Models.Generation;

/// <summary>
/// Sampling settings. Defaults follow the original README demo: cfg 5, top-k 600, top-p 0.98, temperature 1.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Classifier-free guidance scale s: logits = uncond + s·(cond − uncond).</summary>
    public double CfgScale { get; init; } = 5.0;
    /// <summary>Keep the k largest logits per row (ties at the k-th survive); 0 disables.</summary>
    public int TopK { get; init; } = 600;
    /// <summary>Nucleus threshold in (0, 1]; 1 disables.</summary>
    public double TopP { get; init; } = 0.98;
    /// <summary>Logits are divided by it (the original accepts and ignores it: 1 reproduces the original).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Position convention while decoding; null follows the model's config (spec §11 Q1).</summary>
    public DecodePositions? Positions { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> on out-of-range values.</summary>
    public SamplingOptions Validate()
    {
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new ArgumentException($"top-k must be >= 0, got {TopK}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be positive, got {Temperature}");
        if (double.IsNaN(CfgScale) || double.IsInfinity(CfgScale)) throw new ArgumentException($"cfg must be a finite number, got {CfgScale}");
        return this;
    }
}

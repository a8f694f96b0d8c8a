// Stage-2 parameter counts by module (spec §1.2 and the shape tables of §2.1), from a config (no allocation) or
// from named tensors (a model or a checkpoint). The tied lm_head is the token embedding and is counted once.
namespace Aim.Models.Stage2;

/// <summary>
/// Parameter counts of an AiM stage-2 model, split into disjoint groups that add up to <see cref="Total"/>:
/// embeddings (token + position), class table (incl. the null class), adaLN (group projection, per-layer
/// adaLN_modulation, scale_shift_table), layers (block norm + Mamba-2 mixer), final layer (norm_f, norm_final and
/// its adaLN modulation).
/// </summary>
public sealed record AimParameterCounts(long Embeddings, long ClassTable, long AdaLn, long Layers, long FinalLayer)
{
    /// <summary>Sum of every group.</summary>
    public long Total => Embeddings + ClassTable + AdaLn + Layers + FinalLayer;

    /// <summary>Counts implied by <paramref name="config"/> (the shapes AimModel would allocate).</summary>
    public static AimParameterCounts FromConfig(AimConfig config)
    {
        config.Validate();
        long d = config.DModel, e = config.DInner, h = config.NHeads, nl = config.NLayer;
        long embeddings = (long)config.VocabSize * d + (config.NumTokens + 1L) * d;
        long classTable = (config.NumClasses + 1L) * d;
        long adaLn = config.AdalnGroup
            ? d * (config.NumGroups * 3L * d) + config.NumGroups * 3L * d + nl * 3 * d       // group Linear + scale_shift_table per layer
            : nl * (d * 3 * d + 3 * d);                                                       // per-layer Linear d → 3d
        long mixer = config.InProjDim * d                                                      // in_proj (no bias)
                     + config.ConvDim * (long)config.Ssm.DConv + config.ConvDim               // conv1d weight + bias
                     + 3 * h                                                                   // dt_bias, A_log, D
                     + e                                                                       // gated RMSNorm weight
                     + d * e;                                                                  // out_proj (no bias)
        long layers = nl * (d + mixer);                                                        // block norm + mixer
        long finalLayer = d + d + (d * 2 * d + 2 * d);                                         // norm_f, norm_final, adaLN d → 2d
        return new AimParameterCounts(embeddings, classTable, adaLn, layers, finalLayer);
    }

    /// <summary>
    /// Counts from named tensors (AimModel.NamedParameters names, or checkpoint keys after AimKeyMap.Split).
    /// Throws <see cref="ArgumentException"/> on a name that belongs to no group.
    /// </summary>
    public static AimParameterCounts FromNamed(IEnumerable<(string Name, long Count)> parameters)
    {
        long embeddings = 0, classTable = 0, adaLn = 0, layers = 0, finalLayer = 0;
        foreach (var (name, count) in parameters)
        {
            if (name == AimModel.TiedHeadKey) continue;                                        // tied: counted as the embedding
            if (name.StartsWith("backbone.embeddings.", StringComparison.Ordinal)) embeddings += count;
            else if (name.StartsWith("backbone.cls_embed.", StringComparison.Ordinal)) classTable += count;
            else if (name.StartsWith("backbone.adaln_group.", StringComparison.Ordinal)) adaLn += count;
            else if (name.StartsWith("backbone.layers.", StringComparison.Ordinal))
            {
                if (name.Contains(".adaLN_modulation.", StringComparison.Ordinal) || name.EndsWith(".scale_shift_table", StringComparison.Ordinal)) adaLn += count;
                else layers += count;
            }
            else if (name.StartsWith("backbone.final_layer.", StringComparison.Ordinal) || name.StartsWith("backbone.norm_f.", StringComparison.Ordinal)) finalLayer += count;
            else throw new ArgumentException($"parameter '{name}' is not part of an AiM stage-2 model");
        }
        return new AimParameterCounts(embeddings, classTable, adaLn, layers, finalLayer);
    }
}

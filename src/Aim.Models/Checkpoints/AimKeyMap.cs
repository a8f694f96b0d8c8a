using Aim.Engine.Tensors;
using Aim.Models.Stage2;

namespace Aim.Models.Checkpoints;

/// <summary>
/// Maps checkpoint keys to <see cref="AimModel"/> parameter names (spec §9). Three layouts exist:
/// MambaLMHeadModel.save_pretrained (no prefix, both tied keys in .bin, head dropped in .safetensors) and the
/// official hub files of the whole AiM module ("mamba." + "vqvae." prefixes, head usually dropped).
/// The tied head is accepted present or absent; when present it must equal the token embedding.
/// </summary>
public static class AimKeyMap
{
    /// <summary>Prefix of the stage-2 keys in files saved from the whole AiM module.</summary>
    public const string MambaPrefix = "mamba.";
    /// <summary>Prefix of the tokenizer keys in files saved from the whole AiM module.</summary>
    public const string VqPrefix = "vqvae.";

    /// <summary>
    /// Splits <paramref name="state"/> into the stage-2 parameters (model names) and the tokenizer's (prefix removed;
    /// empty when the file has none). Throws <see cref="InvalidDataException"/> if the tied head disagrees.
    /// </summary>
    public static (Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Vq) Split(IReadOnlyDictionary<string, Tensor> state, string source)
    {
        bool prefixed = state.Keys.Any(k => k.StartsWith(MambaPrefix, StringComparison.Ordinal));
        var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var vq = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in state)
        {
            if (prefixed && key.StartsWith(VqPrefix, StringComparison.Ordinal)) vq[key[VqPrefix.Length..]] = value;
            else if (prefixed && key.StartsWith(MambaPrefix, StringComparison.Ordinal)) model[key[MambaPrefix.Length..]] = value;
            else model[key] = value;
        }
        const string wordKey = "backbone.embeddings.word_embeddings.weight";
        if (model.Remove(AimModel.TiedHeadKey, out var head) && model.TryGetValue(wordKey, out var word) && !SameValues(head, word))
            throw new InvalidDataException($"{source}: lm_head.weight differs from {wordKey}, but AiM ties them");
        return (model, vq);
    }

    private static bool SameValues(Tensor a, Tensor b)
    {
        if (ReferenceEquals(a.StorageOrThrow, b.StorageOrThrow) && a.Offset == b.Offset && a.Shape.SequenceEqual(b.Shape)) return true;
        if (!a.Shape.SequenceEqual(b.Shape)) return false;
        return a.ToFloatArray().AsSpan().SequenceEqual(b.ToFloatArray());
    }
}

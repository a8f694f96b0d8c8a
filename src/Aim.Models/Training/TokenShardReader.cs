// Holds: a reader for the token-shard folders that `aim tokenize` writes (format in src/Aim.Models/Data/README.md:
// shard-NNNNN.safetensors with codes I32 [N, T] and labels I32 [N], metadata format "aim-token-shard/1",
// num_classes, grid, vocab_size, class_names). Written against that README while the data helper's
// TokenShards.cs is in progress; every shard is loaded into memory (4·(T+1) bytes per image).
using System.Globalization;
using Aim.Engine.IO;
using Aim.Engine.Tensors;

namespace Aim.Models.Training;

/// <summary>All token shards of a folder, in memory.</summary>
public sealed class TokenShardReader
{
    /// <summary>The shard format tag.</summary>

    private readonly int[] _codes;
    private readonly int[] _labels;

    /// <summary>Images.</summary>
    public int Count => _labels.Length;
    /// <summary>Tokens per image (grid²).</summary>
    public int Tokens { get; }
    /// <summary>Grid side.</summary>
    public int Grid { get; }
    /// <summary>Codebook size the codes index.</summary>
    public int VocabSize { get; }
    /// <summary>Classes (labels in 0..NumClasses-1).</summary>
    public int NumClasses { get; }
    /// <summary>The folder read.</summary>
    public string Folder { get; }

    /// <summary>What checkpoints record about the data, checked on resume.</summary>
    public string Identity => string.Create(CultureInfo.InvariantCulture, $"tokens: {Count} images, {Tokens} tokens, vocab {VocabSize}, {NumClasses} classes");

    private TokenShardReader(string folder, int[] codes, int[] labels, int grid, int vocab, int classes)
    {
        Folder = folder;
        _codes = codes;
        _labels = labels;
        Grid = grid;
        Tokens = grid * grid;
        VocabSize = vocab;
        NumClasses = classes;
    }

    /// <summary>The codes of image <paramref name="index"/> (T values).</summary>
    public ReadOnlySpan<int> Codes(int index) => _codes.AsSpan(index * Tokens, Tokens);

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>Loads every shard of a folder written by `aim tokenize` (validated by <see cref="Data.TokenShardSet"/>).</summary>
    public static TokenShardReader Open(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"token shard folder not found: {folder}");
        var set = Data.TokenShardSet.Open(folder);
        var (codes, labels) = set.ReadAll();
        if (labels.Length == 0) throw new InvalidDataException($"{folder}: the shards hold no images");
        var m = set.Metadata;
        return new TokenShardReader(folder, codes, labels, m.Grid, m.VocabSize, m.NumClasses);
    }
}

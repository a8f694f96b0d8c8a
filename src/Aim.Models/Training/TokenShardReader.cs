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
    public const string Format = "aim-token-shard/1";

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

    /// <summary>Reads every shard-*.safetensors of <paramref name="folder"/>, checking format, shapes and value ranges.</summary>
    public static TokenShardReader Open(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"token shard folder not found: {folder}");
        var files = Directory.GetFiles(folder, "shard-*.safetensors").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidDataException($"{folder}: no shard-*.safetensors files (write them with `aim tokenize`)");
        var codes = new List<int>();
        var labels = new List<int>();
        int grid = -1, vocab = -1, classes = -1;
        foreach (var file in files)
        {
            using var st = SafetensorsFile.Open(file);
            var meta = st.Metadata;
            string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{file}: metadata lacks '{key}'");
            if (Get("format") != Format) throw new InvalidDataException($"{file}: format '{Get("format")}', expected '{Format}'");
            int g = ParseInt(file, "grid", Get("grid")), v = ParseInt(file, "vocab_size", Get("vocab_size")), c = ParseInt(file, "num_classes", Get("num_classes"));
            if (grid < 0) (grid, vocab, classes) = (g, v, c);
            else if ((g, v, c) != (grid, vocab, classes))
                throw new InvalidDataException($"{file}: grid/vocab/classes ({g}, {v}, {c}) differ from the first shard's ({grid}, {vocab}, {classes})");
            using var ct = st.Read("codes");
            using var lt = st.Read("labels");
            int n = lt.Shape.Length == 1 ? lt.Shape[0] : -1;
            if (ct.DType != DType.Int32 || lt.DType != DType.Int32 || n < 0 || ct.Rank != 2 || ct.Shape[0] != n || ct.Shape[1] != g * g)
                throw new InvalidDataException($"{file}: expected codes I32 [N, {g * g}] and labels I32 [N], got codes {ct.DType.ShortName()} {Tensor.ShapeString(ct.Shape)} and labels {lt.DType.ShortName()} {Tensor.ShapeString(lt.Shape)}");
            var cs = ct.AsSpan<int>();
            var ls = lt.AsSpan<int>();
            foreach (int x in cs)
                if ((uint)x >= (uint)v) throw new InvalidDataException($"{file}: code {x} outside [0, {v})");
            foreach (int x in ls)
                if ((uint)x >= (uint)c) throw new InvalidDataException($"{file}: label {x} outside [0, {c})");
            codes.AddRange(cs);
            labels.AddRange(ls);
        }
        if (labels.Count == 0) throw new InvalidDataException($"{folder}: the shards hold no images");
        return new TokenShardReader(folder, [.. codes], [.. labels], grid, vocab, classes);
    }

    private static int ParseInt(string file, string key, string text)
        => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new InvalidDataException($"{file}: metadata {key} '{text}' is not a positive integer");
}

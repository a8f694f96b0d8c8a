// Holds: the token-shard format of Data/README.md: writer (TokenShardWriter) and validating reader (TokenShardSet).
// A shard is shard-NNNNN.safetensors with codes I32 (N, grid²), labels I32 (N) and string metadata format,
// num_classes, grid, vocab_size, class_names (JSON array), source; tokens.json in the same folder repeats the
// metadata as typed JSON values plus shards (file names, in order) and count (images). Every file is written to a
// temporary name in the folder and renamed into place, so a reader never sees a partial file.
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aim.Engine.IO;
using Aim.Engine.Tensors;

namespace Aim.Models.Data;

/// <summary>What every shard of a token set shares.</summary>
/// <param name="NumClasses">Number of classes; labels are 0..NumClasses-1.</param>
/// <param name="Grid">Side of the code grid; each image has Grid² codes.</param>
/// <param name="VocabSize">Codebook size; codes are 0..VocabSize-1.</param>
/// <param name="ClassNames">Class names, index = label (NumClasses of them).</param>
/// <param name="Source">What was tokenized (free text, e.g. the data spec and the VQ file).</param>
public sealed record TokenShardMetadata(int NumClasses, int Grid, int VocabSize, IReadOnlyList<string> ClassNames, string Source)
{
    /// <summary>The value of the <c>format</c> key.</summary>
    public const string Format = "aim-token-shard/1";

    /// <summary>Codes per image (Grid²).</summary>
    public int TokensPerImage => Grid * Grid;

    /// <summary>Throws <see cref="ArgumentException"/> unless the fields are consistent.</summary>
    public TokenShardMetadata Validate()
    {
        if (NumClasses < 1) throw new ArgumentException($"token shards: num_classes {NumClasses} must be positive");
        if (Grid < 1 || Grid > 4096) throw new ArgumentException($"token shards: grid {Grid} must be in 1..4096");
        if (VocabSize < 1) throw new ArgumentException($"token shards: vocab_size {VocabSize} must be positive");
        if (ClassNames is null || ClassNames.Count != NumClasses)
            throw new ArgumentException($"token shards: {ClassNames?.Count ?? 0} class names for num_classes {NumClasses}");
        if (Source is null) throw new ArgumentException("token shards: source is null");
        return this;
    }

    /// <summary>The metadata as the safetensors <c>__metadata__</c> strings.</summary>
    public Dictionary<string, string> ToStrings() => new(StringComparer.Ordinal)
    {
        ["format"] = Format,
        ["num_classes"] = NumClasses.ToString(CultureInfo.InvariantCulture),
        ["grid"] = Grid.ToString(CultureInfo.InvariantCulture),
        ["vocab_size"] = VocabSize.ToString(CultureInfo.InvariantCulture),
        ["class_names"] = JsonSerializer.Serialize(ClassNames, TokenShardJson.Options),
        ["source"] = Source,
    };

    /// <summary>True when <paramref name="other"/> has the same values (class names compared element by element).</summary>
    public bool SameAs(TokenShardMetadata other)
        => NumClasses == other.NumClasses && Grid == other.Grid && VocabSize == other.VocabSize && Source == other.Source
           && ClassNames.SequenceEqual(other.ClassNames, StringComparer.Ordinal);
}

/// <summary>Writes token shards and tokens.json into a folder.</summary>
public sealed class TokenShardWriter
{
    /// <summary>Name of the index file.</summary>
    public const string IndexFileName = "tokens.json";

    private readonly int[] _codes;   // (ShardSize, T)
    private readonly int[] _labels;  // (ShardSize)
    private readonly List<string> _shards = [];
    private int _pending;
    private bool _completed;

    /// <summary>Prepares to write into <paramref name="folder"/> (created if missing).</summary>
    /// <param name="folder">Output folder.</param>
    /// <param name="metadata">Shared metadata; validated.</param>
    /// <param name="shardSize">Images per shard (the last shard may hold fewer).</param>
    public TokenShardWriter(string folder, TokenShardMetadata metadata, int shardSize = 4096)
    {
        Metadata = metadata.Validate();
        if (shardSize < 1) throw new ArgumentException($"token shards: shard size {shardSize} must be positive");
        if ((long)shardSize * metadata.TokensPerImage > Array.MaxLength)
            throw new ArgumentException($"token shards: shard size {shardSize} × {metadata.TokensPerImage} tokens is too large for one shard");
        Folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(Folder);
        ShardSize = shardSize;
        _codes = new int[shardSize * metadata.TokensPerImage];
        _labels = new int[shardSize];
    }

    /// <summary>The output folder.</summary>
    public string Folder { get; }

    /// <summary>The shared metadata.</summary>
    public TokenShardMetadata Metadata { get; }

    /// <summary>Images per full shard.</summary>
    public int ShardSize { get; }

    /// <summary>Images added so far.</summary>
    public int Count { get; private set; }

    /// <summary>Shard file names written so far.</summary>
    public IReadOnlyList<string> Shards => _shards;

    /// <summary>File name of shard <paramref name="index"/>.</summary>
    public static string ShardFileName(int index) => string.Create(CultureInfo.InvariantCulture, $"shard-{index:D5}.safetensors");

    /// <summary>Adds one image: <paramref name="codes"/> (T = Grid²) in raster order and its label.</summary>
    public void Add(ReadOnlySpan<int> codes, int label)
    {
        if (_completed) throw new InvalidOperationException("token shards: writer already completed");
        int t = Metadata.TokensPerImage;
        if (codes.Length != t) throw new ArgumentException($"token shards: {codes.Length} codes for one image, expected {t} (grid {Metadata.Grid})");
        if ((uint)label >= (uint)Metadata.NumClasses) throw new ArgumentException($"token shards: label {label} outside 0..{Metadata.NumClasses - 1}");
        foreach (int c in codes)
            if ((uint)c >= (uint)Metadata.VocabSize) throw new ArgumentException($"token shards: code {c} outside 0..{Metadata.VocabSize - 1}");
        codes.CopyTo(_codes.AsSpan(_pending * t, t));
        _labels[_pending] = label;
        _pending++;
        Count++;
        if (_pending == ShardSize) Flush();
    }

    /// <summary>Writes the last partial shard and tokens.json. Nothing can be added afterwards.</summary>
    public void Complete()
    {
        if (_completed) return;
        if (_pending > 0) Flush();
        var index = new JsonObject
        {
            ["format"] = TokenShardMetadata.Format,
            ["num_classes"] = Metadata.NumClasses,
            ["grid"] = Metadata.Grid,
            ["vocab_size"] = Metadata.VocabSize,
            ["class_names"] = new JsonArray([.. Metadata.ClassNames.Select(n => (JsonNode?)JsonValue.Create(n))]),
            ["source"] = Metadata.Source,
            ["shards"] = new JsonArray([.. _shards.Select(n => (JsonNode?)JsonValue.Create(n))]),
            ["count"] = Count,
        };
        WriteAtomically(Path.Combine(Folder, IndexFileName), index.ToJsonString(TokenShardJson.Indented) + "\n");
        _completed = true;
    }

    private void Flush()
    {
        int n = _pending, t = Metadata.TokensPerImage;
        string name = ShardFileName(_shards.Count);
        using var codes = Tensor.FromArray(_codes.AsSpan(0, n * t).ToArray(), [n, t]);
        using var labels = Tensor.FromArray(_labels.AsSpan(0, n).ToArray(), [n]);
        SafetensorsWriter.Write(Path.Combine(Folder, name), [new("codes", codes), new("labels", labels)], Metadata.ToStrings());
        _shards.Add(name);
        _pending = 0;
    }

    private static void WriteAtomically(string path, string text)
    {
        string temp = Path.Combine(Path.GetDirectoryName(path) ?? ".", $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}

/// <summary>A folder of token shards, opened through its tokens.json and validated.</summary>
public sealed class TokenShardSet
{
    private readonly int[] _shardCounts;

    private TokenShardSet(string folder, TokenShardMetadata metadata, List<string> shards, int[] counts)
    {
        Folder = folder;
        Metadata = metadata;
        Shards = shards;
        _shardCounts = counts;
        Count = counts.Sum();
    }

    /// <summary>The folder.</summary>
    public string Folder { get; }

    /// <summary>The shared metadata.</summary>
    public TokenShardMetadata Metadata { get; }

    /// <summary>Shard file names, in order.</summary>
    public IReadOnlyList<string> Shards { get; }

    /// <summary>Images per shard.</summary>
    public IReadOnlyList<int> ShardCounts => _shardCounts;

    /// <summary>Images in all shards.</summary>
    public int Count { get; }

    /// <summary>
    /// Opens <paramref name="folder"/>: reads tokens.json and every shard header, and checks the format, that each
    /// shard's metadata equals the index's, the dtypes and shapes, and that the counts add up.
    /// </summary>
    /// <exception cref="FileNotFoundException">tokens.json or a shard is missing.</exception>
    /// <exception cref="InvalidDataException">Anything inconsistent (the message names the file and the problem).</exception>
    public static TokenShardSet Open(string folder)
    {
        string dir = Path.GetFullPath(folder);
        string indexPath = Path.Combine(dir, TokenShardWriter.IndexFileName);
        if (!File.Exists(indexPath)) throw new FileNotFoundException($"{dir}: no {TokenShardWriter.IndexFileName} (not a token-shard folder; write one with aim tokenize)", indexPath);
        JsonObject index;
        try
        {
            index = JsonNode.Parse(File.ReadAllText(indexPath)) as JsonObject ?? throw Bad(indexPath, "not a JSON object");
        }
        catch (JsonException e)
        {
            throw Bad(indexPath, $"not valid JSON ({e.Message})");
        }
        string format = JsonString(index, "format", indexPath);
        if (format != TokenShardMetadata.Format) throw Bad(indexPath, $"format '{format}' is not {TokenShardMetadata.Format}");
        var metadata = new TokenShardMetadata(JsonInt(index, "num_classes", indexPath), JsonInt(index, "grid", indexPath), JsonInt(index, "vocab_size", indexPath),
            JsonStrings(index, "class_names", indexPath), JsonString(index, "source", indexPath));
        Check(metadata, indexPath);
        var shards = JsonStrings(index, "shards", indexPath).ToList();
        int count = JsonInt(index, "count", indexPath, allowZero: true);
        var counts = new int[shards.Count];
        for (int i = 0; i < shards.Count; i++)
        {
            string name = shards[i];
            if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
                throw Bad(indexPath, $"shard name '{name}' is not a plain file name");
            counts[i] = CheckShardHeader(Path.Combine(dir, name), metadata);
        }
        long total = counts.Sum(c => (long)c);
        if (total != count) throw Bad(indexPath, $"count {count} does not match the {total} images in its {shards.Count} shard(s)");
        return new TokenShardSet(dir, metadata, shards, counts);
    }

    /// <summary>
    /// Reads shard <paramref name="index"/>: codes (n, Grid²) flattened row-major and labels (n), checking that every
    /// code is below vocab_size and every label below num_classes.
    /// </summary>
    public (int[] Codes, int[] Labels) ReadShard(int index)
    {
        if ((uint)index >= (uint)Shards.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"token set has {Shards.Count} shards");
        string path = Path.Combine(Folder, Shards[index]);
        int n = CheckShardHeader(path, Metadata);
        using var file = SafetensorsFile.Open(path);
        using var codesTensor = file.Read("codes");
        using var labelsTensor = file.Read("labels");
        var codes = codesTensor.ToArray<int>();
        var labels = labelsTensor.ToArray<int>();
        if (labels.Length != n || n != _shardCounts[index]) throw Bad(path, $"holds {labels.Length} images, {_shardCounts[index]} when the set was opened");
        for (int i = 0; i < codes.Length; i++)
            if ((uint)codes[i] >= (uint)Metadata.VocabSize)
                throw Bad(path, $"codes[{i / Metadata.TokensPerImage}, {i % Metadata.TokensPerImage}] = {codes[i]} is outside 0..{Metadata.VocabSize - 1}");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)Metadata.NumClasses)
                throw Bad(path, $"labels[{i}] = {labels[i]} is outside 0..{Metadata.NumClasses - 1}");
        return (codes, labels);
    }

    /// <summary>Every shard concatenated: codes (Count, Grid²) flattened and labels (Count).</summary>
    public (int[] Codes, int[] Labels) ReadAll()
    {
        int t = Metadata.TokensPerImage;
        var codes = new int[(long)Count * t];
        var labels = new int[Count];
        int at = 0;
        for (int s = 0; s < Shards.Count; s++)
        {
            var (c, l) = ReadShard(s);
            c.CopyTo(codes, (long)at * t);
            l.CopyTo(labels, at);
            at += l.Length;
        }
        return (codes, labels);
    }

    /// <summary>Checks a shard's header against <paramref name="expected"/>; returns its image count.</summary>
    private static int CheckShardHeader(string path, TokenShardMetadata expected)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"token shard missing: {path}", path);
        using var file = SafetensorsFile.Open(path);
        var meta = file.Metadata;
        string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata has no '{key}'");
        if (Get("format") != TokenShardMetadata.Format) throw Bad(path, $"format '{Get("format")}' is not {TokenShardMetadata.Format}");
        List<string> names;
        try
        {
            names = JsonSerializer.Deserialize<List<string>>(Get("class_names"), TokenShardJson.Options) ?? throw Bad(path, "class_names is null");
        }
        catch (JsonException e)
        {
            throw Bad(path, $"class_names is not a JSON array of strings ({e.Message})");
        }
        var shardMeta = new TokenShardMetadata(ParseInt(path, "num_classes", Get("num_classes")), ParseInt(path, "grid", Get("grid")),
            ParseInt(path, "vocab_size", Get("vocab_size")), names, Get("source"));
        if (!shardMeta.SameAs(expected))
            throw Bad(path, $"metadata (num_classes {shardMeta.NumClasses}, grid {shardMeta.Grid}, vocab_size {shardMeta.VocabSize}, source '{shardMeta.Source}') differs from tokens.json (num_classes {expected.NumClasses}, grid {expected.Grid}, vocab_size {expected.VocabSize}, source '{expected.Source}'), or the class names differ");
        foreach (var name in new[] { "codes", "labels" })
        {
            if (!file.Contains(name)) throw Bad(path, $"no tensor '{name}'");
            if (file.Entry(name).FileDType != "I32") throw Bad(path, $"'{name}' is {file.Entry(name).FileDType}, expected I32");
        }
        if (file.Entries.Count != 2) throw Bad(path, $"holds {file.Entries.Count} tensors, expected codes and labels only");
        var codes = file.Entry("codes").Shape;
        var labels = file.Entry("labels").Shape;
        if (codes.Length != 2 || codes[1] != expected.TokensPerImage)
            throw Bad(path, $"codes shape [{string.Join(", ", codes)}] is not [N, {expected.TokensPerImage}] (grid {expected.Grid})");
        if (labels.Length != 1 || labels[0] != codes[0])
            throw Bad(path, $"labels shape [{string.Join(", ", labels)}] is not [{codes[0]}] (codes has {codes[0]} rows)");
        return codes[0];
    }

    private static void Check(TokenShardMetadata metadata, string path)
    {
        try
        {
            metadata.Validate();
        }
        catch (ArgumentException e)
        {
            throw Bad(path, e.Message);
        }
    }

    private static int ParseInt(string path, string key, string text)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw Bad(path, $"{key} '{text}' is not a non-negative integer");

    private static string JsonString(JsonObject o, string key, string path)
        => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(path, $"'{key}' is missing or not a string");

    private static int JsonInt(JsonObject o, string key, string path, bool allowZero = false)
        => o[key] is JsonValue v && v.TryGetValue(out int i) && (i > 0 || (allowZero && i == 0)) ? i
            : throw Bad(path, $"'{key}' is missing or not a {(allowZero ? "non-negative" : "positive")} integer");

    private static List<string> JsonStrings(JsonObject o, string key, string path)
    {
        if (o[key] is not JsonArray a) throw Bad(path, $"'{key}' is missing or not an array");
        return [.. a.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(path, $"'{key}'[{i}] is not a string"))];
    }

    private static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");
}

/// <summary>JSON settings shared by the shard writer and reader.</summary>
internal static class TokenShardJson
{
    public static JsonSerializerOptions Options { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JsonSerializerOptions Indented { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };
}

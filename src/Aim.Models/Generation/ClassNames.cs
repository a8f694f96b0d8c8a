// Class labels of a class-conditional model: names from the model folder's classes.json (a JSON array of strings,
// or of arrays of synonyms), the ImageNet-1k list for 1000-class models, or plain numbers. Resolves user input
// given as a number or a name (case-insensitive; any synonym).
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aim.Models.Generation;

/// <summary>The class labels a model was trained with, and a lookup from user text to a class id.</summary>
public sealed class ClassNames
{
    /// <summary>The file name looked for beside the model weights.</summary>
    public const string FileName = "classes.json";

    private readonly IReadOnlyList<IReadOnlyList<string>>? _synonyms;
    private readonly Dictionary<string, List<int>> _byName = new(StringComparer.OrdinalIgnoreCase);

    private ClassNames(int count, IReadOnlyList<IReadOnlyList<string>>? synonyms, string source)
    {
        Count = count;
        _synonyms = synonyms;
        Source = source;
        if (synonyms is null) return;
        for (int i = 0; i < synonyms.Count; i++)
            foreach (var name in synonyms[i].Distinct(StringComparer.OrdinalIgnoreCase))
            {
                if (!_byName.TryGetValue(name, out var ids)) _byName[name] = ids = [];
                ids.Add(i);
            }
    }

    /// <summary>Number of classes (the null class is not counted).</summary>
    public int Count { get; }

    /// <summary>Where the names come from: a classes.json path, "ImageNet-1k" or "numbers".</summary>
    public string Source { get; }

    /// <summary>Whether the classes have names (otherwise only numbers are accepted).</summary>
    public bool HasNames => _synonyms is not null;

    /// <summary>The display name of class <paramref name="id"/> (its number when there are no names).</summary>
    public string Name(int id)
    {
        if (id < 0 || id >= Count) throw new ArgumentOutOfRangeException(nameof(id), $"class {id} outside 0..{Count - 1}");
        return _synonyms is null ? id.ToString(CultureInfo.InvariantCulture) : _synonyms[id][0];
    }

    /// <summary>"207 (golden retriever)", or just the number without names.</summary>
    public string Describe(int id) => _synonyms is null ? Name(id) : $"{id.ToString(CultureInfo.InvariantCulture)} ({Name(id)})";

    /// <summary>Plain numbers 0..count-1.</summary>
    public static ClassNames Numbers(int count) => new(count, null, "numbers");

    /// <summary>The ImageNet-1k list.</summary>
    public static ClassNames ImageNet() => new(ImageNetClasses.Count, ImageNetClasses.AllSynonyms, "ImageNet-1k");

    /// <summary>
    /// The names for a model at <paramref name="modelPath"/> (a folder, or a weight file whose folder is used) with
    /// <paramref name="numClasses"/> classes: classes.json if present, else ImageNet-1k for 1000 classes, else numbers.
    /// </summary>
    public static ClassNames ForModel(string? modelPath, int numClasses)
    {
        if (modelPath is not null)
        {
            string folder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
            string file = Path.Combine(folder, FileName);
            if (File.Exists(file)) return FromJson(File.ReadAllText(file), file, numClasses);
        }
        return numClasses == ImageNetClasses.Count ? ImageNet() : Numbers(numClasses);
    }

    /// <summary>Parses classes.json: an array of <paramref name="numClasses"/> names (strings or arrays of synonyms).</summary>
    public static ClassNames FromJson(string json, string source, int numClasses)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})"); }
        if (root is not JsonArray array) throw new InvalidDataException($"{source}: expected a JSON array of class names");
        if (array.Count != numClasses) throw new InvalidDataException($"{source}: {array.Count} names, but the model has {numClasses} classes");
        var result = new List<IReadOnlyList<string>>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            var names = array[i] switch
            {
                JsonValue v when v.TryGetValue(out string? s) => [s],
                JsonArray a => a.Select(n => n is JsonValue nv && nv.TryGetValue(out string? s) ? s : null).ToList(),
                _ => new List<string?> { null },
            };
            if (names.Count == 0 || names.Any(string.IsNullOrWhiteSpace))
                throw new InvalidDataException($"{source}: entry {i} is not a non-empty name or list of names");
            result.Add(names.Select(n => n!.Trim()).ToArray());
        }
        return new ClassNames(numClasses, result, source);
    }

    /// <summary>
    /// The class id for <paramref name="text"/>: a number in 0..Count-1, or a name or synonym (case-insensitive).
    /// Throws <see cref="ArgumentException"/> for out-of-range numbers, unknown or ambiguous names.
    /// </summary>
    public int Resolve(string text)
    {
        string t = text.Trim();
        if (t.Length == 0) throw new ArgumentException("--class: empty class");
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
        {
            if (n < 0 || n >= Count) throw new ArgumentException($"--class: class {t} is out of range (the model has classes 0..{Count - 1})");
            return (int)n;
        }
        if (_synonyms is null)
            throw new ArgumentException($"--class: '{t}' is not a number and the model's classes have no names (add {FileName} to the model folder, or pass 0..{Count - 1})");
        if (!_byName.TryGetValue(t, out var ids))
            throw new ArgumentException($"--class: unknown class name '{t}' ({Source} names; pass a number 0..{Count - 1} or a name)");
        if (ids.Count > 1)
            throw new ArgumentException($"--class: '{t}' is ambiguous (classes {string.Join(", ", ids)}); pass the number");
        return ids[0];
    }
}

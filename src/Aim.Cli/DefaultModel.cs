// The small model pair that ships with the tool (models/fashion-mnist in the repository, copied next to the
// binary): a Fashion-MNIST VQ (32 px, f4, 1024 codes) and an AiM (d 256, 8 layers, 64 tokens, bf16 weights).
// `aim generate` uses it when neither --model nor --vq is given. README.md says how it was trained.
namespace Aim.Cli;

/// <summary>Where the built-in model pair lives.</summary>
internal static class DefaultModel
{
    /// <summary>The folder holding aim/ and vq/.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "models", "fashion-mnist");

    /// <summary>The AiM model folder (config.json, model.safetensors, classes.json).</summary>
    public static string AimFolder => Existing(Path.Combine(Folder, "aim"));

    /// <summary>The VQ tokenizer folder.</summary>
    public static string VqFolder => Existing(Path.Combine(Folder, "vq"));

    private static string Existing(string path)
        => Directory.Exists(path) ? path : throw new FileNotFoundException($"the built-in model is missing from this installation ({path}); pass --model and --vq");
}

// Helpers for the CLI tests: run `aim` in-process with captured output, per-test temporary folders, and the
// golden fixtures discovered by content (an AiM config has vocab_size, a VQ config has codebook_size).
using Aim.BackendOps;
using Aim.Models.Stage2;
using Aim.Models.Vq;

namespace Aim.Cli.Tests;

/// <summary>The result of one in-process run.</summary>
public sealed record CliResult(int Code, string Out, string Err)
{
    /// <summary>The non-empty lines written to stderr.</summary>
    public IReadOnlyList<string> ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>Runs the tool and finds fixtures.</summary>
public static class CliHarness
{
    /// <summary>Runs <c>aim args...</c> with captured writers.</summary>
    public static CliResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Every fixture folder holding an AiM stage-2 config, with the config.</summary>
    public static IReadOnlyList<(string Path, AimConfig Config)> AimFolders()
        => Fixtures.ConfigFolders().Select(Fixtures.Resolve)
            .Where(p => File.ReadAllText(Path.Combine(p, "config.json")).Contains("\"vocab_size\"", StringComparison.Ordinal))
            .Select(p => (p, AimConfig.FromJson(File.ReadAllText(Path.Combine(p, "config.json")), p))).ToList();

    /// <summary>The VQ tokenizer fixture folder and its config.</summary>
    public static (string Path, VqConfig Config) VqFolder()
    {
        var p = Fixtures.ConfigFolders().Select(Fixtures.Resolve)
            .First(f => File.ReadAllText(Path.Combine(f, "config.json")).Contains("\"codebook_size\"", StringComparison.Ordinal));
        return (p, VqConfig.FromJson(File.ReadAllText(Path.Combine(p, "config.json")), p));
    }

    /// <summary>An AiM folder that matches the VQ fixture (vocab = codebook, tokens = latent grid²).</summary>
    public static (string Path, AimConfig Config) PairedAim()
    {
        var vq = VqFolder().Config;
        return AimFolders().First(a => a.Config.VocabSize == vq.CodebookSize && a.Config.NumTokens == vq.LatentSize * vq.LatentSize);
    }

    /// <summary>An AiM folder whose vocabulary differs from the VQ codebook.</summary>
    public static (string Path, AimConfig Config) MismatchedAim()
    {
        var vq = VqFolder().Config;
        return AimFolders().First(a => a.Config.VocabSize != vq.CodebookSize);
    }

    /// <summary>A fresh empty temporary folder.</summary>
    public static string TempFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aim-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Copies an AiM fixture folder's config.json and one weight file into a new temporary folder.</summary>
    public static string CopyModelFolder(string source)
    {
        string dir = TempFolder();
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(dir, "config.json"));
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        return dir;
    }
}

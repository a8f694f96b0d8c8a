// Holds: where the shared golden fixtures live, for every test project that includes this file.
// AIM_FIXTURES overrides; otherwise the first "<ancestor>/shared/fixtures" above the test binaries
// (i.e. <repo>/../shared/fixtures for a worktree, <repo>/shared/fixtures if checked out inside).
namespace Aim.Engine.Tests;

/// <summary>Locates the fixture folders. A missing folder fails the test that asks (never skips it).</summary>
public static class TestFixtures
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The fixtures folder (the one holding aim-tiny/).</summary>
    /// <exception cref="DirectoryNotFoundException">Not found; the message says where it looked.</exception>
    public static string Root => s_root.Value;

    /// <summary>The aim-tiny fixture set.</summary>
    public static string AimTiny => Require(System.IO.Path.Combine(Root, "aim-tiny"));

    /// <summary>A path under <see cref="Root"/>, which must exist.</summary>
    public static string PathOf(params string[] parts) => Require(System.IO.Path.Combine([Root, .. parts]));

    private static string Require(string path)
        => File.Exists(path) || Directory.Exists(path) ? path : throw new FileNotFoundException($"fixture not found: {path} (fixtures root {Root})", path);

    private static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("AIM_FIXTURES");
        if (!string.IsNullOrWhiteSpace(env))
        {
            string full = System.IO.Path.GetFullPath(env);
            if (Directory.Exists(System.IO.Path.Combine(full, "aim-tiny"))) return full;
            // Also accept AIM_FIXTURES pointing at aim-tiny itself.
            if (System.IO.Path.GetFileName(full.TrimEnd('/', '\\')) == "aim-tiny" && Directory.Exists(full))
                return System.IO.Path.GetDirectoryName(full.TrimEnd('/', '\\'))!;
            throw new DirectoryNotFoundException($"AIM_FIXTURES='{env}' has no aim-tiny folder");
        }
        var tried = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared", "fixtures");
            tried.Add(candidate);
            if (Directory.Exists(System.IO.Path.Combine(candidate, "aim-tiny"))) return candidate;
        }
        throw new DirectoryNotFoundException($"fixtures not found: set AIM_FIXTURES or place them at <repo>/../shared/fixtures (tried {string.Join(", ", tried)})");
    }
}

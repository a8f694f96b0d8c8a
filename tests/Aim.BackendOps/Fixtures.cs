namespace Aim.BackendOps;

/// <summary>
/// Finds the golden fixtures written by the original PyTorch code: the folder named by AIM_FIXTURES, or else the
/// first "shared/fixtures" above the test binaries (the checkout's ../shared/fixtures). Fixture folders are
/// discovered by content (a config.json plus expected outputs), never by name, so tests run on folders they have
/// never seen. A missing root is an error, not a skip.
/// </summary>
public static class Fixtures
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The fixtures root.</summary>
    public static string Root => s_root.Value;

    /// <summary>Every folder under the root holding a config.json, sorted, as paths relative to the root.</summary>
    public static IReadOnlyList<string> ConfigFolders()
        => Directory.EnumerateFiles(Root, "config.json", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, Path.GetDirectoryName(f)!))
            .OrderBy(p => p, StringComparer.Ordinal).ToList();

    /// <summary>Absolute path of a folder returned by <see cref="ConfigFolders"/>.</summary>
    public static string Resolve(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("AIM_FIXTURES");
        if (!string.IsNullOrWhiteSpace(env))
        {
            string full = Path.GetFullPath(env);
            return Directory.Exists(full) ? full : throw new DirectoryNotFoundException($"AIM_FIXTURES='{env}' does not exist");
        }
        var tried = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            tried.Add(candidate);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"fixtures not found: set AIM_FIXTURES (tried {string.Join(", ", tried)})");
    }
}

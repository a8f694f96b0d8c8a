// Where a command writes: plain text output, error text and the Spectre console (tables, progress) bound to the
// same output. Commands take a CliIo instead of using Console directly, so Program.Run can redirect them.
using Spectre.Console;

namespace Aim.Cli;

/// <summary>The writers of one <c>aim</c> invocation.</summary>
/// <param name="Out">Plain output (JSON lines, summaries).</param>
/// <param name="Err">Error text.</param>
/// <param name="Console">Rich output (tables, progress) on <paramref name="Out"/>.</param>
public sealed record CliIo(TextWriter Out, TextWriter Err, IAnsiConsole Console);

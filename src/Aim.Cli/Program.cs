// The `aim` command-line tool. The root command is assembled from Commands/*.cs (one file per command,
// each a static Create(CliIo) returning its System.CommandLine Command). Errors reach the user as one plain
// line on stderr and exit code 1, never as a stack trace. Program.Run runs a command line in-process against
// any pair of writers (the tests use it).
using System.CommandLine;
using Aim.Cli.Commands;
using Spectre.Console;

namespace Aim.Cli;

/// <summary>Entry points of the <c>aim</c> tool.</summary>
public static class Program
{
    private static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs one command line, writing normal output to <paramref name="output"/> and errors to <paramref name="error"/>.
    /// Returns the exit code: 0 on success, 1 with one "aim: ..." line on <paramref name="error"/> on any failure.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var console = ReferenceEquals(output, Console.Out)
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
                Out = new AnsiConsoleOutput(output),
            });
        // Spectre assumes 80 columns without a terminal, which wraps wide benchmark tables in logs.
        if (Console.IsOutputRedirected || !ReferenceEquals(output, Console.Out)) console.Profile.Width = 160;
        var io = new CliIo(output, error, console);
        var root = new RootCommand("AiM for .NET: class-conditional image generation with Mamba-2 on a managed tensor engine.");
        root.Subcommands.Add(GenerateCommand.Create(io));
        root.Subcommands.Add(InfoCommand.Create(io));
        root.Subcommands.Add(BenchCommand.Create(io));
        root.Subcommands.Add(TokenizeCommand.Create(io));
        foreach (var command in TrainCommand.Create(io)) root.Subcommands.Add(command);
        root.Subcommands.Add(EvalGenerateCommand.Create(io));
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                error.WriteLine($"aim: {OneLine(parse.Errors[0].Message)}");
                return 1;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException)
        {
            error.WriteLine($"aim: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e)
        {
            error.WriteLine($"aim: internal error ({e.GetType().Name}): {OneLine(e.Message)}");
            return 1;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

// The `aim` command-line tool. The root command is assembled from Commands/*.cs (one file per command,
// each a static Create() returning its System.CommandLine Command). Errors reach the user as one plain
// line on stderr and exit code 1, never as a stack trace.
using System.CommandLine;
using Aim.Cli.Commands;

namespace Aim.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("AiM for .NET: class-conditional image generation with Mamba-2 on a managed tensor engine.");
        root.Subcommands.Add(BenchCommand.Create());
        foreach (var command in TrainCommand.Create()) root.Subcommands.Add(command);
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException)
        {
            Console.Error.WriteLine($"aim: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"aim: internal error ({e.GetType().Name}): {e.Message}");
            return 1;
        }
    }
}

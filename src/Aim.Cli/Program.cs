namespace Aim.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("aim: commands arrive with the bench/model work");
        return args.Length == 0 ? 1 : 1;
    }
}

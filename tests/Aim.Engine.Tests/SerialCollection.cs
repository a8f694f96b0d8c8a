namespace Aim.Engine.Tests;

/// <summary>Tests that read the process-wide allocation counter run alone, so other tests cannot move it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "serial";
}

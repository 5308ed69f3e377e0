namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// Tests that change or observe process-wide state join this collection, which xUnit runs on its own, never alongside
/// another test class: environment variables, listeners that see every gateway's meters or activities by name, and
/// measurements of the managed heap.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneCollection
{
    public const string Name = "runs alone";
}

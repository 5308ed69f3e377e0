namespace XtacGateway.Policy.Validation;

/// <summary>One problem in a policy document: where it is (a JSON path such as
/// <c>$.partners[3].b2bDirectConnectInbound.usersAndGroups.targets[0].targetType</c>) and what is wrong.</summary>
public sealed record PolicyError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}

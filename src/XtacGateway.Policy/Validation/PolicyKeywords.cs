namespace XtacGateway.Policy.Validation;

/// <summary>The literal values of Graph's cross-tenant access schema.</summary>
public static class PolicyKeywords
{
    public const string Allowed = "allowed";
    public const string Blocked = "blocked";

    public const string TargetTypeUser = "user";
    public const string TargetTypeGroup = "group";
    public const string TargetTypeApplication = "application";

    public const string AllUsers = "AllUsers";
    public const string AllApplications = "AllApplications";
    public const string AllMicrosoftApps = "AllMicrosoftApps";
    public const string Office365 = "Office365";
}

namespace XtacGateway.Policy.Compilation;

/// <summary>The compiled <c>usersAndGroups</c> half of inbound B2B direct connect.</summary>
internal sealed class UsersTarget(bool allowed, bool allUsers, GuidSet users, GuidSet groups)
{
    public bool Allowed { get; } = allowed;
    public bool AllUsers { get; } = allUsers;
    public GuidSet Users { get; } = users;
    public GuidSet Groups { get; } = groups;
}

/// <summary>The compiled <c>applications</c> half of inbound B2B direct connect.</summary>
internal sealed class ApplicationsTarget(bool allowed, bool allApplications, GuidSet applications)
{
    public bool Allowed { get; } = allowed;
    public bool AllApplications { get; } = allApplications;
    public GuidSet Applications { get; } = applications;
}

/// <summary>
/// One tenant's effective inbound B2B direct connect and trust settings, with all inheritance already
/// resolved. Halves a partner inherits are the default's own instances, so 100,000 partners stay small.
/// </summary>
internal sealed class EffectiveSettings(
    SettingsSourceKind source,
    UsersTarget users,
    ApplicationsTarget applications,
    bool mfaAccepted,
    bool compliantDeviceAccepted,
    bool hybridJoinedDeviceAccepted)
{
    public SettingsSourceKind Source { get; } = source;
    public UsersTarget Users { get; } = users;
    public ApplicationsTarget Applications { get; } = applications;
    public bool MfaAccepted { get; } = mfaAccepted;
    public bool CompliantDeviceAccepted { get; } = compliantDeviceAccepted;
    public bool HybridJoinedDeviceAccepted { get; } = hybridJoinedDeviceAccepted;

    /// <summary>"Specific" targets (anything but AllUsers) that a token must be able to answer for.</summary>
    public bool HasSpecificUsers => Users.Users.Count > 0;
    public bool HasSpecificGroups => Users.Groups.Count > 0;
}

internal enum SettingsSourceKind : byte
{
    Default = 1,
    Partner = 2,
}

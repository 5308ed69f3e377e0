namespace XtacGateway.Policy.Evaluation;

/// <summary>Why a request was allowed or denied. The names are a stable contract (logs, metrics, problem bodies).</summary>
public enum DecisionReason : byte
{
    Allowed,
    InternalUser,
    InboundPolicyBlocked,
    MfaRequired,
    CompliantDeviceRequired,
    HybridJoinedDeviceRequired,
    BlockedByGrantControls,
    GroupMembershipUnavailable,
    HomeIdentityUnavailable,
    UnsupportedIdentityProvider,
    UnknownHomeTenant,
    /// <summary>The gateway has no policy snapshot at all and fails closed.</summary>
    PolicyUnavailable,
}

/// <summary>Where the settings that decided came from.</summary>
public enum SettingsSource : byte
{
    /// <summary>No cross-tenant settings applied: an internal caller, or no home tenant to look up.</summary>
    None,
    Default,
    Partner,
}

/// <summary>One access decision. A value type so that deciding allocates nothing.</summary>
public readonly record struct Decision(DecisionReason Reason, SettingsSource Source, Guid? HomeTenantId, Guid AppId)
{
    public bool IsAllowed => Reason is DecisionReason.Allowed or DecisionReason.InternalUser;

    /// <summary>"allow" or "deny".</summary>
    public string Verdict => IsAllowed ? "allow" : "deny";

    /// <summary>The reason's stable name, without the cost of <see cref="Enum.ToString()"/>.</summary>
    public string ReasonName => DecisionText.ReasonNames[(int)Reason];

    /// <summary>The source's stable lower-case name: partner, default or none.</summary>
    public string SourceName => DecisionText.SourceNames[(int)Source];

    /// <summary>Entra's error code for this denial, or null when Entra has none (or the request is allowed).</summary>
    public string? ErrorCode => DecisionText.ErrorCodes[(int)Reason];

    /// <summary>One human-readable sentence for the caller or the admin.</summary>
    public string Detail => DecisionText.Describe(this);
}

internal static class DecisionText
{
    public static readonly string[] ReasonNames = Enum.GetNames<DecisionReason>();

    public static readonly string[] SourceNames = ["none", "default", "partner"];

    public static readonly string?[] ErrorCodes =
    [
        null, null, "AADSTS500213", "AADSTS50076", "AADSTS53000", "AADSTS53001", "AADSTS53003", null, null, null, null, null,
    ];

    public static string Describe(Decision d)
    {
        var tenant = d.HomeTenantId?.ToString() ?? "unknown";
        // A grant control decided without settings is an internal caller's: only its own token counts, no trust applies.
        string Shown() => d.Source == SettingsSource.None ? "none" : $"none that is trusted from home tenant {tenant}";
        return d.Reason switch
        {
            DecisionReason.Allowed => $"The {d.SourceName} cross-tenant access settings for home tenant {tenant} allow this user to reach application {d.AppId}.",
            DecisionReason.InternalUser => $"The caller belongs to the resource tenant, so cross-tenant access settings do not apply to application {d.AppId}.",
            // Not which settings (partner or default): denied callers read this, and whether their tenant has partner
            // settings is the resource tenant's business. The decision's source stays in the decision logs and metrics.
            DecisionReason.InboundPolicyBlocked => $"The inbound B2B direct connect settings for home tenant {tenant} block this user or application {d.AppId}.",
            DecisionReason.MfaRequired => $"Application {d.AppId} requires multifactor authentication, and the token shows {Shown()}.",
            DecisionReason.CompliantDeviceRequired => $"Application {d.AppId} requires a compliant device, and the token shows {Shown()}.",
            DecisionReason.HybridJoinedDeviceRequired => $"Application {d.AppId} requires a hybrid Azure AD joined device, and the token shows {Shown()}.",
            DecisionReason.BlockedByGrantControls => $"The grant controls of application {d.AppId} block access.",
            // No more than the reason's name says: which settings, and whom they name, are the resource tenant's business.
            DecisionReason.GroupMembershipUnavailable => $"Access from home tenant {tenant} depends on group membership, and this token does not show the caller's groups in a form that can be checked (too many groups for the token, or groups not given by object ID).",
            DecisionReason.HomeIdentityUnavailable => $"Access from home tenant {tenant} depends on who the caller is, and this token does not carry the caller's identity in its home tenant.",
            DecisionReason.UnsupportedIdentityProvider => "The caller's identity provider is not a Microsoft Entra organisation, so cross-tenant access settings cannot admit it.",
            DecisionReason.UnknownHomeTenant => "The token does not name a usable home tenant.",
            DecisionReason.PolicyUnavailable => "No cross-tenant access policy is loaded, so the gateway denies every cross-tenant request.",
            _ => d.ReasonName,
        };
    }
}

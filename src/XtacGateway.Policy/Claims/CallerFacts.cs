namespace XtacGateway.Policy.Claims;

/// <summary>How the caller's home tenant was established.</summary>
public enum HomeTenantStatus : byte
{
    /// <summary>From <c>tid</c>, or from <c>idp</c> for a guest token.</summary>
    Known,
    /// <summary>The token has no usable <c>tid</c>.</summary>
    Unknown,
    /// <summary>The identity provider is not an Entra organisation (a Microsoft account, a social or email identity).</summary>
    UnsupportedIdentityProvider,
}

/// <summary>
/// What a token says about its caller, read once per token: the one definition of who is calling,
/// shared by the gateway and the <c>evaluate</c> command.
/// </summary>
public sealed class CallerFacts
{
    public required HomeTenantStatus Status { get; init; }

    /// <summary>The caller's home tenant; meaningful when <see cref="Status"/> is <see cref="HomeTenantStatus.Known"/>.</summary>
    public Guid HomeTenantId { get; init; }

    /// <summary>The tenant that issued the token (<c>tid</c>), when it parses.</summary>
    public Guid? TokenTenantId { get; init; }

    /// <summary>True when the token was issued by a resource tenant to a guest, and the home tenant came from <c>idp</c>.</summary>
    public bool IsGuest { get; init; }

    /// <summary>The caller's object ID in the home tenant; null when the token cannot tell (a guest token without <c>home_oid</c>).</summary>
    public Guid? UserObjectId { get; init; }

    /// <summary>The caller's groups; empty when the token lists none or they are in overage.</summary>
    public Guid[] Groups { get; init; } = [];

    /// <summary>The token says the caller has more groups than it could carry (<c>_claim_names.groups</c> or <c>hasgroups</c>).</summary>
    public bool GroupsOverage { get; init; }

    /// <summary>The token names some group other than by object ID (a name or an on-premises SID): its membership cannot be matched.</summary>
    public bool GroupsUnreadable { get; init; }

    public bool MultifactorAuthenticated { get; init; }

    public bool CompliantDevice { get; init; }

    public bool HybridJoinedDevice { get; init; }
}

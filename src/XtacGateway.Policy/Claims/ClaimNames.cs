namespace XtacGateway.Policy.Claims;

/// <summary>Which token claims carry each caller fact. Every name is configurable (section <c>Xtac:Claims</c>).</summary>
public sealed record ClaimNames
{
    public string TenantId { get; init; } = "tid";
    public string Issuer { get; init; } = "iss";
    public string IdentityProvider { get; init; } = "idp";
    public string ObjectId { get; init; } = "oid";
    public string HomeObjectId { get; init; } = "home_oid";
    public string Groups { get; init; } = "groups";
    public string OverageClaimNames { get; init; } = "_claim_names";
    public string HasGroups { get; init; } = "hasgroups";
    public string AuthenticationMethods { get; init; } = "amr";
    public string MfaMethod { get; init; } = "mfa";
    public string DeviceCompliant { get; init; } = "device_compliant";
    public string DeviceTrustType { get; init; } = "device_trust_type";
    public string HybridJoinedTrustType { get; init; } = "ServerAd";

    public static ClaimNames Default { get; } = new();
}

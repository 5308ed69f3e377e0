namespace XtacGateway.Tests.Infrastructure;

/// <summary>Policy documents in Graph's JSON shape for gateway tests.</summary>
internal static class TestPolicies
{
    public static string BlockedAll => Half("blocked", "AllUsers", "user", "AllApplications");

    public static string AllowedAll => Half("allowed", "AllUsers", "user", "AllApplications");

    /// <summary>The service default, plus one partner allowed in (trusting its MFA) and one blocked.</summary>
    public static string Standard(bool allowedPartnerTrustsMfa = true) => Document(
        Partner(TestIds.AllowedPartner, AllowedAll, mfaAccepted: allowedPartnerTrustsMfa),
        Partner(TestIds.BlockedPartner, BlockedAll));

    public static string Document(params string[] partners) => $$"""
        {
          "default": {
            "isServiceDefault": true,
            "inboundTrust": { "isMfaAccepted": false, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false },
            "b2bDirectConnectInbound": {{BlockedAll}}
          },
          "partners": [ {{string.Join(",", partners)}} ]
        }
        """;

    public static string Partner(Guid tenant, string directConnectInbound, bool? mfaAccepted = null, bool? compliantDeviceAccepted = null, bool? hybridJoinedDeviceAccepted = null) => $$"""
        {
          "tenantId": "{{tenant}}",
          "inboundTrust": { "isMfaAccepted": {{Json(mfaAccepted)}}, "isCompliantDeviceAccepted": {{Json(compliantDeviceAccepted)}}, "isHybridAzureADJoinedDeviceAccepted": {{Json(hybridJoinedDeviceAccepted)}} },
          "b2bDirectConnectInbound": {{directConnectInbound}}
        }
        """;

    /// <summary>A b2bDirectConnectInbound setting with one users target and one applications target.</summary>
    public static string Half(string access, string userTarget, string userTargetType, string appTarget, string? appAccess = null) => $$"""
        {
          "usersAndGroups": { "accessType": "{{access}}", "targets": [ { "target": "{{userTarget}}", "targetType": "{{userTargetType}}" } ] },
          "applications": { "accessType": "{{appAccess ?? access}}", "targets": [ { "target": "{{appTarget}}", "targetType": "application" } ] }
        }
        """;

    private static string Json(bool? value) => value switch { true => "true", false => "false", null => "null" };
}

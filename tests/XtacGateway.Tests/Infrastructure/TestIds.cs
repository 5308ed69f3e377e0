namespace XtacGateway.Tests.Infrastructure;

/// <summary>The tenants, apps and audience every gateway test speaks of.</summary>
internal static class TestIds
{
    public static readonly Guid ResourceTenant = new("aaaaaaaa-0000-4000-8000-000000000001");
    public static readonly Guid AllowedPartner = new("bbbbbbbb-0000-4000-8000-000000000002");
    public static readonly Guid BlockedPartner = new("cccccccc-0000-4000-8000-000000000003");
    public static readonly Guid UnlistedTenant = new("eeeeeeee-0000-4000-8000-000000000004");
    public static readonly Guid OpenApp = new("dddddddd-0000-4000-8000-000000000010");
    public static readonly Guid MfaApp = new("dddddddd-0000-4000-8000-000000000011");
    public static readonly Guid PartnerGroup = new("99999999-0000-4000-8000-000000000001");
    // Not appsettings.json's sample, which a gateway outside Development refuses.
    public const string Audience = "5e1f7c3a-0000-4000-8000-0000000a11d2";
}

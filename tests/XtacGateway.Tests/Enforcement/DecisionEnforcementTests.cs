using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Enforcement;

/// <summary>
/// Each decision reason seen end to end: the 403 problem body a denied caller gets with nothing forwarded, or the
/// request forwarded with the gateway's identity headers.
/// </summary>
public sealed class DecisionEnforcementTests
{
    private static readonly Guid DeviceApp = new("dddddddd-0000-4000-8000-000000000012");
    private static readonly Guid PartnerUser = new("0e6c5a4b-3333-4000-8000-000000000003");

    [Theory]
    [InlineData(true, new[] { "pwd" })]
    [InlineData(false, new[] { "pwd", "mfa" })]
    public async Task Invoke_MfaRouteWithoutTrustedMfa_Returns403MfaRequired(bool partnerTrustsMfa, string[] amr)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(allowedPartnerTrustsMfa: partnerTrustsMfa));
        var token = gateway.Token(claims: c => c["amr"] = amr.Cast<object>().ToList());

        using var response = await gateway.GetAsync("/mfa/report", token);

        await ProblemAssert.ForbiddenAsync(response, "MfaRequired", "AADSTS50076", TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_MfaRouteWithTrustedMfa_ForwardsAllowed()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(allowedPartnerTrustsMfa: true));
        var token = gateway.Token(claims: c => c["amr"] = new List<object> { "pwd", "mfa" });

        using var response = await gateway.GetAsync("/mfa/report", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal("/mfa/report", seen.Path);
        Assert.Equal("Allowed", seen.Headers["X-Xtac-Decision"]);
        Assert.Equal(TestIds.AllowedPartner.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
    }

    [Fact]
    public async Task Invoke_OpenRouteWithoutMfa_ForwardsAllowed()
    {
        // The same password-only token that /mfa refuses is fine on a route without grant controls.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/orders", gateway.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Allowed", Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Decision"]);
    }

    [Theory]
    [InlineData("compliantDevice", "CompliantDeviceRequired", "AADSTS53000")]
    [InlineData("domainJoinedDevice", "HybridJoinedDeviceRequired", "AADSTS53001")]
    [InlineData("block", "BlockedByGrantControls", "AADSTS53003")]
    [InlineData("mfa,block", "BlockedByGrantControls", "AADSTS53003")]
    public async Task Invoke_RouteGrantControlNotMet_Returns403WithEntraCode(string controls, string reason, string errorCode)
    {
        // The partner trusts MFA only; the token claims MFA and both device states, which without trust count for nothing.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), DeviceRoute(controls));
        var token = gateway.Token(claims: DeviceClaims);

        using var response = await gateway.GetAsync("/dev/items", token);

        await ProblemAssert.ForbiddenAsync(response, reason, errorCode, TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("compliantDevice")]
    [InlineData("domainJoinedDevice")]
    public async Task Invoke_DeviceControlTrustedAndShown_ForwardsAllowed(string controls)
    {
        var policy = TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, compliantDeviceAccepted: true, hybridJoinedDeviceAccepted: true));
        await using var gateway = await GatewayHarness.StartAsync(policy, DeviceRoute(controls));

        using var response = await gateway.GetAsync("/dev/items", gateway.Token(claims: DeviceClaims));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Allowed", Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Decision"]);
    }

    [Theory]
    [InlineData("compliantDevice", "CompliantDeviceRequired", "AADSTS53000")]
    [InlineData("domainJoinedDevice", "HybridJoinedDeviceRequired", "AADSTS53001")]
    public async Task Invoke_DeviceControlTrustedButNotShown_Returns403(string controls, string reason, string errorCode)
    {
        var policy = TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, compliantDeviceAccepted: true, hybridJoinedDeviceAccepted: true));
        await using var gateway = await GatewayHarness.StartAsync(policy, DeviceRoute(controls));
        var token = gateway.Token(claims: c =>
        {
            c["device_compliant"] = false;
            c["device_trust_type"] = "AzureAd";
        });

        using var response = await gateway.GetAsync("/dev/items", token);

        await ProblemAssert.ForbiddenAsync(response, reason, errorCode, TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_BlockRouteForInternalCaller_Returns403BlockedByGrantControls()
    {
        // block denies whatever else holds, even for the resource tenant's own users.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), DeviceRoute("block"));

        using var response = await gateway.GetAsync("/dev/items", gateway.Token(TestIds.ResourceTenant));

        await ProblemAssert.ForbiddenAsync(response, "BlockedByGrantControls", "AADSTS53003", TestIds.ResourceTenant);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_GroupTargetWithGroupOverage_Returns403GroupMembershipUnavailable()
    {
        await using var gateway = await GatewayHarness.StartAsync(GroupPolicy());
        var token = gateway.Token(claims: c =>
        {
            c["groups"] = null;
            c["_claim_names"] = new Dictionary<string, object> { ["groups"] = "src1" };
            c["_claim_sources"] = new Dictionary<string, object> { ["src1"] = new Dictionary<string, object> { ["endpoint"] = "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } };
        });

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "GroupMembershipUnavailable", errorCode: null, TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_GroupTargetWithMemberGroup_ForwardsAllowed()
    {
        // The control for the overage case: the same policy admits a token that lists the group.
        await using var gateway = await GatewayHarness.StartAsync(GroupPolicy());
        var token = gateway.Token(claims: c => c["groups"] = new List<object> { TestIds.PartnerGroup.ToString() });

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Allowed", Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Decision"]);
    }

    [Fact]
    public async Task Invoke_GroupTargetWithOtherGroups_Returns403InboundPolicyBlocked()
    {
        await using var gateway = await GatewayHarness.StartAsync(GroupPolicy());
        var token = gateway.Token(claims: c => c["groups"] = new List<object> { Guid.NewGuid().ToString() });

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "InboundPolicyBlocked", "AADSTS500213", TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_GuestTokenWithoutHomeOid_Returns403HomeIdentityUnavailable()
    {
        await using var gateway = await GatewayHarness.StartAsync(UserPolicy());
        var token = GuestToken(gateway, homeOid: null);

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "HomeIdentityUnavailable", errorCode: null, TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_GuestTokenWithTargetedHomeOid_ForwardsWithHomeIdentity()
    {
        // The control for the guest case: with home_oid the home tenant's user is known and admitted.
        await using var gateway = await GatewayHarness.StartAsync(UserPolicy());
        var token = GuestToken(gateway, homeOid: PartnerUser);

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal("Allowed", seen.Headers["X-Xtac-Decision"]);
        Assert.Equal(TestIds.AllowedPartner.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
        Assert.Equal(PartnerUser.ToString(), seen.Headers["X-Xtac-User-Object-Id"]);
    }

    [Fact]
    public async Task Invoke_GuestTokenWithoutHomeOidUnderAllUsers_ForwardsNoUserObjectId()
    {
        // A guest's oid is its resource-tenant shadow account, not the home identity: nothing is better than the wrong ID,
        // and a spoofed header must not fill the gap.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = GuestToken(gateway, homeOid: null);

        using var response = await gateway.GetAsync("/orders", token, r => r.Headers.Add("X-Xtac-User-Object-Id", PartnerUser.ToString()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal(TestIds.AllowedPartner.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
        Assert.False(seen.Headers.ContainsKey("X-Xtac-User-Object-Id"), $"forwarded user '{seen.Headers.GetValueOrDefault("X-Xtac-User-Object-Id")}'");
    }

    [Fact]
    public async Task Invoke_GuestOfBlockedPartnerHomedAtResourceTenant_IsInternalUser()
    {
        // Home tenant comes from idp: a token issued by another tenant for one of our own users is internal.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var homeOid = Guid.NewGuid();
        var token = gateway.Token(TestIds.BlockedPartner, c =>
        {
            c["idp"] = $"https://login.microsoftonline.com/{TestIds.ResourceTenant}/v2.0";
            c["home_oid"] = homeOid.ToString();
        });

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal("InternalUser", seen.Headers["X-Xtac-Decision"]);
        Assert.Equal(homeOid.ToString(), seen.Headers["X-Xtac-User-Object-Id"]);
    }

    [Theory]
    [InlineData("live.com")]
    [InlineData("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/")]
    [InlineData("google.com")]
    public async Task Invoke_NonEntraIdentityProvider_Returns403UnsupportedIdentityProvider(string idp)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(claims: c => c["idp"] = idp);

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "UnsupportedIdentityProvider", errorCode: null, homeTenantId: null);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_TokenWithoutTid_Returns403UnknownHomeTenant()
    {
        // The issuer still names a tenant, so the token passes validation; without tid the gateway cannot tell
        // the home tenant and fails closed rather than guessing it from the issuer.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(claims: c => c["tid"] = null);

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "UnknownHomeTenant", errorCode: null, homeTenantId: null);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("not-a-tenant")]
    public async Task Invoke_UnusableTid_Returns403UnknownHomeTenant(string tid)
    {
        // The issuer is built from the same text, so the token passes issuer validation; a tid that is no
        // tenant GUID (or the empty GUID) names no home tenant, and the gateway fails closed.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(claims: c =>
        {
            c["tid"] = tid;
            c["iss"] = $"https://xtac-dev-issuer.localhost/{tid}/v2.0";
        });

        using var response = await gateway.GetAsync("/orders", token);

        await ProblemAssert.ForbiddenAsync(response, "UnknownHomeTenant", errorCode: null, homeTenantId: null);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_InternalCaller_ForwardsAsInternalUser()
    {
        // The default blocks everyone cross-tenant; the resource tenant's own users are not cross-tenant.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Document());
        var oid = Guid.NewGuid();

        using var response = await gateway.GetAsync("/orders", gateway.Token(TestIds.ResourceTenant, c => c["oid"] = oid.ToString()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal("InternalUser", seen.Headers["X-Xtac-Decision"]);
        Assert.Equal(TestIds.ResourceTenant.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
        Assert.Equal(oid.ToString(), seen.Headers["X-Xtac-User-Object-Id"]);
    }

    [Fact]
    public async Task Invoke_InternalCallerOnMfaRoute_NeedsOwnMfaOnly()
    {
        // No inbound trust applies to internal callers: their own mfa claim is enough, its absence is not.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(allowedPartnerTrustsMfa: false));

        using var withoutMfa = await gateway.GetAsync("/mfa/x", gateway.Token(TestIds.ResourceTenant));
        await ProblemAssert.ForbiddenAsync(withoutMfa, "MfaRequired", "AADSTS50076", TestIds.ResourceTenant);
        Assert.Empty(gateway.Backend.Requests);

        using var withMfa = await gateway.GetAsync("/mfa/x", gateway.Token(TestIds.ResourceTenant, c => c["amr"] = new List<object> { "pwd", "mfa" }));
        Assert.Equal(HttpStatusCode.OK, withMfa.StatusCode);
        Assert.Equal("InternalUser", Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Decision"]);
    }

    [Fact]
    public async Task Invoke_UnlistedTenant_GetsBlockingDefault()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var decisions = new MetricCollector<long>(gateway.Service<IMeterFactory>(), "XtacGateway", "xtac.decisions");

        using var response = await gateway.GetAsync("/orders", gateway.Token(TestIds.UnlistedTenant));

        await ProblemAssert.ForbiddenAsync(response, "InboundPolicyBlocked", "AADSTS500213", TestIds.UnlistedTenant);
        Assert.Empty(gateway.Backend.Requests);
        // The caller is not told which settings blocked it; the gateway's own decision count says it was the default.
        decisions.RecordObservableInstruments();
        var decision = Assert.Single(decisions.GetMeasurementSnapshot(), m => m.Value > 0);
        Assert.Equal("InboundPolicyBlocked", decision.Tags["xtac.reason"]);
        Assert.Equal("default", decision.Tags["xtac.settings_source"]);
    }

    [Fact]
    public async Task Invoke_UnlistedTenantWithOpenDefault_ForwardsAllowed()
    {
        // The default decides for unlisted tenants in both directions.
        var policy = TestPolicies.Document().Replace(TestPolicies.BlockedAll, TestPolicies.AllowedAll, StringComparison.Ordinal);
        await using var gateway = await GatewayHarness.StartAsync(policy);

        using var response = await gateway.GetAsync("/orders", gateway.Token(TestIds.UnlistedTenant));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TestIds.UnlistedTenant.ToString(), Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Home-Tenant-Id"]);
    }

    [Fact]
    public async Task Invoke_PublicRouteWithoutToken_ForwardsWithoutSpoofedHeaders()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/public/status", token: null, r =>
        {
            r.Headers.Add("X-Xtac-Home-Tenant-Id", TestIds.ResourceTenant.ToString());
            r.Headers.Add("x-xtac-decision", "InternalUser");
            r.Headers.Add("X-Xtac-User-Object-Id", Guid.NewGuid().ToString());
            r.Headers.Add("X-MS-CLIENT-PRINCIPAL-ID", "attacker");
            // A public route must not become a way to have the upstream serve a protected path.
            r.Headers.Add("X-Original-URL", "/mfa/admin");
            r.Headers.Add("X-Rewrite-URL", "/mfa/admin");
            r.Headers.Add("X-Unrelated", "kept");
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backend says hello", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal("/public/status", seen.Path);
        Assert.DoesNotContain(seen.Headers.Keys, k => k.StartsWith("X-Xtac-", StringComparison.OrdinalIgnoreCase));
        Assert.False(seen.Headers.ContainsKey("X-MS-CLIENT-PRINCIPAL-ID"));
        Assert.False(seen.Headers.ContainsKey("X-Original-URL"));
        Assert.False(seen.Headers.ContainsKey("X-Rewrite-URL"));
        Assert.Equal("kept", seen.Headers["X-Unrelated"]);
    }

    [Fact]
    public async Task Invoke_PublicRouteWithBlockedPartnerToken_StillForwards()
    {
        // Public means no enforcement at all, whoever calls.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/public/status", gateway.Token(TestIds.BlockedPartner));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.False(seen.Headers.ContainsKey("X-Xtac-Decision"));
    }

    [Fact]
    public async Task Invoke_PublicRouteWithInvalidToken_StillForwards()
    {
        // A public route does not authenticate, so a broken token there is no reason to refuse (nor to trust it).
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/public/status", "not.a.token");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Assert.Single(gateway.Backend.Requests).Headers.ContainsKey("X-Xtac-Home-Tenant-Id"));
    }

    [Theory]
    [InlineData("/MFA/report")]
    [InlineData("/mfa")]
    [InlineData("/Mfa/a/b?x=1")]
    public async Task Invoke_MfaRoutePathVariants_StillRequireMfa(string path)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync(path, gateway.Token());

        await ProblemAssert.ForbiddenAsync(response, "MfaRequired", "AADSTS50076", TestIds.AllowedPartner);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_StripAuthorizationConfigured_ForwardsWithoutAuthorization()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Headers:StripAuthorization"] = "true");

        using var response = await gateway.GetAsync("/orders", gateway.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.False(seen.Headers.ContainsKey("Authorization"), $"Authorization forwarded as '{seen.Headers.GetValueOrDefault("Authorization")}'");
        Assert.Equal("Allowed", seen.Headers["X-Xtac-Decision"]);
    }

    [Fact]
    public async Task Invoke_StripAuthorizationConfiguredOnPublicRoute_ForwardsWithoutAuthorization()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Headers:StripAuthorization"] = "true");

        using var response = await gateway.GetAsync("/public/status", gateway.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Assert.Single(gateway.Backend.Requests).Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task Invoke_DeniedCaller_TraceIdIsPerRequest()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(TestIds.BlockedPartner);

        using var first = await gateway.GetAsync("/orders", token);
        using var second = await gateway.GetAsync("/orders", token);

        var a = await ProblemAssert.ForbiddenAsync(first, "InboundPolicyBlocked", "AADSTS500213", TestIds.BlockedPartner);
        var b = await ProblemAssert.ForbiddenAsync(second, "InboundPolicyBlocked", "AADSTS500213", TestIds.BlockedPartner);
        Assert.NotEqual(a.GetProperty("traceId").GetString(), b.GetProperty("traceId").GetString());
        Assert.Equal("no-store", first.Headers.CacheControl?.ToString());
        Assert.Empty(gateway.Backend.Requests);
    }

    private static Action<Dictionary<string, string?>> DeviceRoute(string controls) => s =>
    {
        s["ReverseProxy:Routes:dev:ClusterId"] = "backend";
        s["ReverseProxy:Routes:dev:Match:Path"] = "/dev/{**catch-all}";
        s["ReverseProxy:Routes:dev:Metadata:Xtac.AppId"] = DeviceApp.ToString();
        s["ReverseProxy:Routes:dev:Metadata:Xtac.GrantControls"] = controls;
    };

    private static void DeviceClaims(Dictionary<string, object?> claims)
    {
        claims["amr"] = new List<object> { "pwd", "mfa" };
        claims["device_compliant"] = true;
        claims["device_trust_type"] = "ServerAd";
    }

    /// <summary>The allowed partner admits only members of <see cref="TestIds.PartnerGroup"/>.</summary>
    private static string GroupPolicy() => TestPolicies.Document(
        TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.Half("allowed", TestIds.PartnerGroup.ToString(), "group", "AllApplications")));

    /// <summary>The allowed partner admits only <see cref="PartnerUser"/>.</summary>
    private static string UserPolicy() => TestPolicies.Document(
        TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.Half("allowed", PartnerUser.ToString(), "user", "AllApplications")));

    /// <summary>A guest token: issued by the resource tenant for a user whose home (idp) is the allowed partner.</summary>
    private static string GuestToken(GatewayHarness gateway, Guid? homeOid) => gateway.Token(TestIds.ResourceTenant, c =>
    {
        c["idp"] = $"https://sts.windows.net/{TestIds.AllowedPartner}/";
        c["home_oid"] = homeOid?.ToString();
    });
}

using System.Net;
using System.Text.Json;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Enforcement;

public sealed class EnforcementMiddlewareTests
{
    [Fact]
    public async Task Invoke_AllowedPartner_ForwardsWithTrustedHeadersAndNoSpoofedOnes()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var oid = Guid.NewGuid();
        var token = gateway.Token(claims: c => c["oid"] = oid.ToString());

        using var response = await gateway.GetAsync("/orders", token, r =>
        {
            r.Headers.Add("x-xtac-home-tenant-id", TestIds.ResourceTenant.ToString());
            r.Headers.Add("X-XTAC-Spoofed", "yes");
            r.Headers.Add("X-MS-CLIENT-PRINCIPAL-ID", "attacker");
            // Spellings a CGI-style upstream reads as the same headers (HTTP_X_XTAC_HOME_TENANT_ID).
            r.Headers.Add("X_Xtac_Home_Tenant_Id", TestIds.ResourceTenant.ToString());
            r.Headers.Add("x_ms_client_principal", "attacker");
            r.Headers.Add("X-MS-TOKEN-AAD-ID-TOKEN", "attacker");
            // Would have IIS's URL Rewrite serve another path than the one routed and decided.
            r.Headers.Add("X-Original-URL", "/mfa/admin");
            r.Headers.Add("X_Rewrite_URL", "/mfa/admin");
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backend says hello", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal(TestIds.AllowedPartner.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
        Assert.Equal(oid.ToString(), seen.Headers["X-Xtac-User-Object-Id"]);
        Assert.Equal("Allowed", seen.Headers["X-Xtac-Decision"]);
        Assert.False(seen.Headers.ContainsKey("X-Xtac-Spoofed"));
        Assert.False(seen.Headers.ContainsKey("X-MS-CLIENT-PRINCIPAL-ID"));
        Assert.False(seen.Headers.ContainsKey("X_Xtac_Home_Tenant_Id"));
        Assert.False(seen.Headers.ContainsKey("x_ms_client_principal"));
        Assert.False(seen.Headers.ContainsKey("X-MS-TOKEN-AAD-ID-TOKEN"));
        Assert.False(seen.Headers.ContainsKey("X-Original-URL"));
        Assert.False(seen.Headers.ContainsKey("X_Rewrite_URL"));
        Assert.True(seen.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task Invoke_HeadersToRemoveConfigured_DropsThemAndStillTheDefaults()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Headers:Remove:0"] = "X-Forwarded-User");

        using var response = await gateway.GetAsync("/orders", gateway.Token(), r =>
        {
            r.Headers.Add("X-Forwarded-User", "attacker");
            r.Headers.Add("X_Forwarded_User", "attacker");
            r.Headers.Add("X-MS-CLIENT-PRINCIPAL-NAME", "attacker");
            r.Headers.Add("X-Other", "kept");
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.False(seen.Headers.ContainsKey("X-Forwarded-User"));
        Assert.False(seen.Headers.ContainsKey("X_Forwarded_User"));
        Assert.False(seen.Headers.ContainsKey("X-MS-CLIENT-PRINCIPAL-NAME"));
        Assert.Equal("kept", seen.Headers["X-Other"]);
    }

    [Fact]
    public async Task Invoke_BlockedPartner_Returns403ProblemAndNeverCallsBackend()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/orders", gateway.Token(TestIds.BlockedPartner));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("AADSTS500213", body.RootElement.GetProperty("errorCode").GetString());
        Assert.Equal("InboundPolicyBlocked", body.RootElement.GetProperty("reason").GetString());
        Assert.Equal(TestIds.BlockedPartner.ToString(), body.RootElement.GetProperty("homeTenantId").GetString());
        Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("traceId").GetString()));
        var detail = body.RootElement.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrEmpty(detail));
        // The blocked partner has settings of its own; the caller is not told whose settings blocked it.
        Assert.DoesNotContain("partner", detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("default", detail, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_NoToken_Returns401BearerChallengeAndNeverCallsBackend()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/orders", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_IssuerOfAnotherTenantThanTid_Returns401InvalidToken()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(TestIds.AllowedPartner, c => c["iss"] = XtacGateway.Authentication.DevelopmentIssuer.IssuerFor(TestIds.BlockedPartner));

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Empty(gateway.Backend.Requests);
    }
}

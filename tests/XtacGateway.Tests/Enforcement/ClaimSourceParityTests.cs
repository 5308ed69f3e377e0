using System.Security.Claims;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using XtacGateway.Enforcement;
using XtacGateway.Policy.Claims;

namespace XtacGateway.Tests.Enforcement;

/// <summary>
/// The evaluate command and POST /admin/evaluate read claims from JSON; the gateway from the token Microsoft.Identity.Web
/// validated. The same payload must give the same values, or the two could decide one request differently.
/// </summary>
public sealed class ClaimSourceParityTests
{
    [Theory]
    [InlineData("""{ "groups": ["99999999-0000-4000-8000-000000000001", null] }""", "groups")]
    [InlineData("""{ "oid": null }""", "oid")]
    [InlineData("""{ "amr": ["pwd", "mfa"] }""", "amr")]
    [InlineData("""{ "device_compliant": true }""", "device_compliant")]
    [InlineData("""{ "device_compliant": "true" }""", "device_compliant")]
    [InlineData("""{ "ver": 2 }""", "ver")]
    [InlineData("""{ "ver": 2.5 }""", "ver")]
    [InlineData("""{ "groups": [] }""", "groups")]
    [InlineData("""{ "tid": "" }""", "tid")]
    [InlineData("""{ }""", "tid")]
    public void GetValues_SamePayload_TokenAndJsonGiveTheSameValues(string payload, string claim)
    {
        var token = new JsonWebToken("""{ "alg": "none", "typ": "JWT" }""", payload);
        var fromToken = new ClaimsPrincipalClaimSource(new ClaimsPrincipal(new ClaimsIdentity(token.Claims))).GetValues(claim).ToArray();
        using var json = JsonDocument.Parse(payload);

        var fromJson = new JsonClaimSource(json.RootElement).GetValues(claim).ToArray();

        Assert.Equal(fromToken, fromJson);
    }
}

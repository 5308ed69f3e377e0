using System.Net;
using System.Text.Json;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

/// <summary>The loopback issuer's published documents: what JwtBearer reads, and nothing a caller could sign with.</summary>
public sealed class DevelopmentIssuerEndpointTests
{
    private static readonly string[] PublicJwkMembers = ["kty", "use", "alg", "kid", "n", "e"];

    [Fact]
    public async Task Keys_Published_HoldOnlyPublicHalves()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.Client.GetAsync("/.xtac-dev-issuer/discovery/v2.0/keys");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var key = Assert.Single(json.RootElement.GetProperty("keys").EnumerateArray().ToArray());
        Assert.Equal(PublicJwkMembers.Order(StringComparer.Ordinal), key.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(gateway.Issuer.SigningKey.KeyId, key.GetProperty("kid").GetString());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        Assert.Empty(gateway.Backend.Requests);
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_NewKeyFile_ReadableByItsOwnerOnly()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes only.");

        using var temp = new TempDirectory("xtac-dev-key-");
        var directory = temp.Path;
        var path = Path.Combine(directory, "keys.pem");
        var issuer = XtacGateway.Authentication.DevelopmentIssuer.LoadOrCreate(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        // A rotated key file too, and it still loads.
        using var next = System.Security.Cryptography.RSA.Create(2048);
        XtacGateway.Authentication.DevelopmentIssuer.WriteKeyFile(path, [next]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.NotEqual(issuer.SigningKey.KeyId, XtacGateway.Authentication.DevelopmentIssuer.LoadOrCreate(path).SigningKey.KeyId);
    }

    [Fact]
    public async Task Discovery_V2_NamesTemplateIssuerAndLoopbackKeys()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.Client.GetAsync($"/.xtac-dev-issuer/{TestIds.AllowedPartner}/v2.0/.well-known/openid-configuration");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("https://xtac-dev-issuer.localhost/{tenantid}/v2.0", json.RootElement.GetProperty("issuer").GetString());
        var jwks = new Uri(json.RootElement.GetProperty("jwks_uri").GetString()!);
        Assert.Equal(gateway.Client.BaseAddress!.Authority, jwks.Authority);
        Assert.Equal("/.xtac-dev-issuer/discovery/v2.0/keys", jwks.AbsolutePath);
    }
}

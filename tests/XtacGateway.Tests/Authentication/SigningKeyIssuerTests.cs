using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

/// <summary>
/// Entra's multi-tenant key set holds keys bound to one tenant's issuer (their <c>issuer</c> names a tenant, not
/// <c>{tenantid}</c>); Microsoft.Identity.Web refuses a token of another tenant signed with such a key. The issuer here is
/// real Kestrel on loopback, shaped like Entra's metadata and JWKS, in place of the development issuer.
/// </summary>
public sealed class SigningKeyIssuerTests
{
    [Theory]
    [InlineData("bound", "allowed-partner", HttpStatusCode.OK)]
    [InlineData("bound", "unlisted-tenant", HttpStatusCode.Unauthorized)]
    // Authenticated, then denied by the policy (403, not 401): the 401 above comes from the key's binding alone.
    [InlineData("any-tenant", "unlisted-tenant", HttpStatusCode.Forbidden)]
    public async Task ValidateToken_KeyBoundToATenant_SignsOnlyThatTenantsTokens(string key, string tenant, HttpStatusCode expected)
    {
        await using var issuer = await EntraShapedIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        await using var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["Xtac:DevelopmentIssuer:Enabled"] = "false",
            configureBuilder: b => b.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o =>
            {
                o.MetadataAddress = issuer.MetadataAddress;
                o.RequireHttpsMetadata = false;
                o.TokenValidationParameters.ValidIssuers = [issuer.IssuerTemplate];
            }));
        var tid = tenant == "allowed-partner" ? TestIds.AllowedPartner : TestIds.UnlistedTenant;

        using var response = await gateway.GetAsync("/a", issuer.Mint(key, tid));

        Assert.Equal(expected, response.StatusCode);
    }

    private sealed class EntraShapedIssuer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Dictionary<string, RSA> _keys = new() { ["bound"] = RSA.Create(2048), ["any-tenant"] = RSA.Create(2048) };

        private EntraShapedIssuer(WebApplication app) => _app = app;

        private string BaseUrl => _app.Urls.First();

        public string IssuerTemplate => $"{BaseUrl}/{{tenantid}}/v2.0";

        public string MetadataAddress => $"{BaseUrl}/organizations/v2.0/.well-known/openid-configuration";

        public static async Task<EntraShapedIssuer> StartAsync(Guid boundTo)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var issuer = new EntraShapedIssuer(app);
            app.MapGet("/organizations/v2.0/.well-known/openid-configuration", () => Results.Json(new JsonObject
            {
                ["issuer"] = issuer.IssuerTemplate,
                ["jwks_uri"] = $"{issuer.BaseUrl}/discovery/v2.0/keys",
            }));
            app.MapGet("/discovery/v2.0/keys", () => Results.Json(new JsonObject
            {
                ["keys"] = new JsonArray([.. issuer._keys.Select(k => (JsonNode)PublicKey(k.Key, k.Value,
                    k.Key == "bound" ? $"{issuer.BaseUrl}/{boundTo}/v2.0" : issuer.IssuerTemplate))]),
            }));
            await app.StartAsync();
            return issuer;
        }

        public string Mint(string key, Guid tenant)
        {
            var now = DateTime.UtcNow;
            return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Claims = new Dictionary<string, object>
                {
                    ["iss"] = $"{BaseUrl}/{tenant}/v2.0",
                    ["aud"] = TestIds.Audience,
                    ["tid"] = tenant.ToString(),
                    ["oid"] = Guid.NewGuid().ToString(),
                    ["scp"] = "access_as_user",
                    ["ver"] = "2.0",
                },
                IssuedAt = now,
                NotBefore = now,
                Expires = now.AddHours(1),
                SigningCredentials = new SigningCredentials(new RsaSecurityKey(_keys[key]) { KeyId = key }, SecurityAlgorithms.RsaSha256),
            });
        }

        public async ValueTask DisposeAsync()
        {
            await _app.DisposeAsync();
            foreach (var key in _keys.Values)
            {
                key.Dispose();
            }
        }

        private static JsonObject PublicKey(string kid, RSA rsa, string issuer)
        {
            var parameters = rsa.ExportParameters(includePrivateParameters: false);
            return new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["kid"] = kid,
                ["n"] = Base64UrlEncoder.Encode(parameters.Modulus),
                ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
                ["issuer"] = issuer,
            };
        }
    }
}

using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// An identity provider shaped like Entra's multi-tenant endpoint (real Kestrel on loopback): metadata with an issuer
/// template, a JWKS whose keys carry an <c>issuer</c>, and RS256 tokens. Key <c>any-tenant</c> signs for every tenant;
/// key <c>bound</c> is bound to one tenant's issuer. It can be taken down (503) and counts metadata fetches.
/// </summary>
internal sealed class LoopbackIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, RSA> _keys = new() { ["bound"] = RSA.Create(2048), ["any-tenant"] = RSA.Create(2048) };
    private int _metadataRequests;
    private int _stalledKeyRequests;

    private LoopbackIssuer(WebApplication app) => _app = app;

    public string IssuerTemplate => $"{BaseUrl}/{{tenantid}}/v2.0";

    public string MetadataAddress => $"{BaseUrl}/organizations/v2.0/.well-known/openid-configuration";

    /// <summary>While true, every endpoint answers 503, as an identity provider outage would.</summary>
    public bool Down { get; set; }

    /// <summary>While true, every endpoint answers 200 with an HTML page, as a captive portal or an intercepting proxy would.</summary>
    public bool AnswersHtml { get; set; }

    public int MetadataRequests => Volatile.Read(ref _metadataRequests);

    /// <summary>While true, the key set is not answered until it turns false or the caller gives up: a stalled egress.</summary>
    public bool KeysStalled { get; set; }

    /// <summary>Key set requests held by <see cref="KeysStalled"/>: a refresh that reached the issuer and got no answer.</summary>
    public int StalledKeyRequests => Volatile.Read(ref _stalledKeyRequests);

    /// <summary>While true, the key set is published empty, as a misconfigured or intercepting endpoint could answer.</summary>
    public bool PublishesNoKeys { get; set; }

    /// <summary>When set, key <c>any-tenant</c> is published bound to this tenant's issuer, under the same key ID.</summary>
    public Guid? AnyTenantKeyBoundTo { get; set; }

    private string BaseUrl => _app.Urls.First();

    public static async Task<LoopbackIssuer> StartAsync(Guid boundTo)
    {
        var app = LoopbackApp.Create();
        var issuer = new LoopbackIssuer(app);
        app.Use((context, next) =>
        {
            if (context.Request.Path.Value!.EndsWith("/openid-configuration", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref issuer._metadataRequests);
            }

            return issuer.Down ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context)
                : issuer.AnswersHtml ? Results.Content("<html><body>Sign in to continue</body></html>", "text/html").ExecuteAsync(context)
                : next(context);
        });
        app.MapGet("/organizations/v2.0/.well-known/openid-configuration",
            () => Results.Json(new JsonObject { ["issuer"] = issuer.IssuerTemplate, ["jwks_uri"] = $"{issuer.BaseUrl}/discovery/v2.0/keys" }));
        app.MapGet("/discovery/v2.0/keys", async (HttpContext context) =>
        {
            if (issuer.KeysStalled)
            {
                Interlocked.Increment(ref issuer._stalledKeyRequests);
            }

            while (issuer.KeysStalled && !context.RequestAborted.IsCancellationRequested)
            {
                await Task.Delay(50);
            }

            return issuer.PublishesNoKeys ? Results.Json(new JsonObject { ["keys"] = new JsonArray() }) : issuer.KeySet(boundTo);
        });
        await app.StartAsync();
        return issuer;
    }

    private IResult KeySet(Guid boundTo) => Results.Json(new JsonObject
    {
        ["keys"] = new JsonArray([.. _keys.Select(k => (JsonNode)PublicKey(k.Key, k.Value,
            k.Key == "bound" ? $"{BaseUrl}/{boundTo}/v2.0"
            : AnyTenantKeyBoundTo is { } rebound ? $"{BaseUrl}/{rebound}/v2.0"
            : IssuerTemplate))]),
    });

    /// <summary>Makes a gateway trust this issuer instead of the development issuer.</summary>
    public void TrustedBy(WebApplicationBuilder gateway)
        => gateway.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o =>
        {
            o.MetadataAddress = MetadataAddress;
            o.RequireHttpsMetadata = false;
            o.TokenValidationParameters.ValidIssuers = [IssuerTemplate];
        });

    /// <summary>A token signed by <paramref name="key"/>; a name this issuer does not publish signs with a stranger's key.</summary>
    public string Mint(string key, Guid tenant)
    {
        using var stranger = _keys.ContainsKey(key) ? null : RSA.Create(2048);
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
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(stranger ?? _keys[key]) { KeyId = key }, SecurityAlgorithms.RsaSha256),
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

using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using XtacGateway.Authentication;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

public sealed class VerifiedTokenCacheTests
{
    [Fact]
    public async Task ValidateToken_SameTokenTwice_SecondIsCacheHit()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var lookups = new MetricCollector<long>(gateway.Service<System.Diagnostics.Metrics.IMeterFactory>(), "XtacGateway", "xtac.token_cache.lookups");
        var token = gateway.Token();

        using (var first = await gateway.GetAsync("/a", token))
        using (var second = await gateway.GetAsync("/b", token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        lookups.RecordObservableInstruments();
        var results = lookups.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["result"]!, m => m.Value);
        Assert.Equal(1, results["miss"]);
        Assert.Equal(1, results["hit"]);
        Assert.Equal(1, gateway.Service<VerifiedTokenCache>().Count);
    }

    [Fact]
    public async Task ValidateToken_CachedTokenInTwoAuthorizationHeaders_Returns401()
    {
        // JwtBearer reads two Authorization lines as one malformed value; the cache must not answer for the first.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token();
        using (var cached = await gateway.GetAsync("/a", token))
        {
            Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        }

        var (status, response) = await RawHttp.GetAsync(gateway.Client.BaseAddress!, "/b", $"Authorization: Bearer {token}", $"Authorization: Bearer {token}");

        Assert.True(status == 401, response);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task ValidateToken_InvalidSignature_NeverCached()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token();
        var tampered = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");

        await AssertRefusedTwiceAndNeverCachedAsync(gateway, tampered);
    }

    [Fact]
    public async Task ValidateToken_CachedTokensSignatureOnAnotherPayload_Returns401()
    {
        // The cache hashes a token by its signature tail, so this forgery lands beside the cached token: only the
        // full comparison may tell them apart.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var cached = gateway.Token();
        using (var first = await gateway.GetAsync("/a", cached))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var other = gateway.Token();
        var forged = other[..other.LastIndexOf('.')] + cached[cached.LastIndexOf('.')..];
        Assert.NotEqual(cached, forged);

        using var response = await gateway.GetAsync("/b", forged);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1, gateway.Service<VerifiedTokenCache>().Count);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task ValidateToken_ExpiredAfterBeingCached_Returns401()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Authentication:ClockSkew"] = "00:00:00");
        // First another token: the signing keys are fetched and the path warmed before the short-lived token's clock runs.
        using (var warm = await gateway.GetAsync("/a", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var token = gateway.Token(lifetime: TimeSpan.FromSeconds(5));
        var expires = DateTimeOffset.UtcNow.AddSeconds(5);

        using (var fresh = await gateway.GetAsync("/a", token))
        {
            Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        }

        Assert.Equal(2, gateway.Service<VerifiedTokenCache>().Count);
        await Task.Delay((expires - DateTimeOffset.UtcNow) + TimeSpan.FromMilliseconds(1100));

        using var expired = await gateway.GetAsync("/a", token);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("invalid_token", expired.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, gateway.Backend.Requests.Count);
    }

    [Fact]
    public async Task ValidateToken_KeyRotatedWhileRunning_NoRequestFails()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using (var before = await gateway.GetAsync("/a", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var oldKey = RSA.Create();
        oldKey.ImportFromPem(await File.ReadAllTextAsync(gateway.KeyPath));
        using var newKey = RSA.Create(2048);
        DevelopmentIssuer.WriteKeyFile(gateway.KeyPath, [newKey, oldKey]);
        var rotated = DevelopmentIssuer.LoadOrCreate(gateway.KeyPath);
        Assert.NotEqual(gateway.Issuer.SigningKey.KeyId, rotated.SigningKey.KeyId);

        // Several callers with new-key tokens at once: one coalesced refresh, and every request succeeds.
        var tokens = Enumerable.Range(0, 8).Select(_ => rotated.Mint(Claims(gateway), DateTimeOffset.UtcNow, TimeSpan.FromHours(1))).ToArray();
        var responses = await Task.WhenAll(tokens.Select(t => gateway.GetAsync("/rotated", t)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        using var oldKeyStillPublished = await gateway.GetAsync("/a", gateway.Token());
        Assert.Equal(HttpStatusCode.OK, oldKeyStillPublished.StatusCode);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task ValidateToken_KeyRemovedFromJwks_CachedTokensOfThatKeyDropped()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var oldToken = gateway.Token();
        using (var before = await gateway.GetAsync("/a", oldToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var newKey = RSA.Create(2048);
        DevelopmentIssuer.WriteKeyFile(gateway.KeyPath, [newKey]);
        var rotated = DevelopmentIssuer.LoadOrCreate(gateway.KeyPath);
        using (var newKeyResponse = await gateway.GetAsync("/b", rotated.Mint(Claims(gateway), DateTimeOffset.UtcNow, TimeSpan.FromHours(1))))
        {
            Assert.Equal(HttpStatusCode.OK, newKeyResponse.StatusCode);
        }

        using var after = await gateway.GetAsync("/a", oldToken);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Add_TokenOfAKeyRemovedWhileItWasValidated_NotCached()
    {
        // JwtBearer validated this token against the keys of when its request began; the refresh that removed its key
        // and swept the cache finished before the token reached the cache.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var oldKeyToken = gateway.Token();
        using (var verified = await gateway.GetAsync("/a", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, verified.StatusCode);
        }

        // The key object JwtBearer verified the token with, as it sets it on the token.
        var oldKey = gateway.Service<SigningKeyManager>().Current!.SigningKeys.Single(k => k.KeyId == new JsonWebToken(oldKeyToken).Kid);
        using var newKey = RSA.Create(2048);
        DevelopmentIssuer.WriteKeyFile(gateway.KeyPath, [newKey]);
        var rotated = DevelopmentIssuer.LoadOrCreate(gateway.KeyPath);
        using (var refreshed = await gateway.GetAsync("/b", rotated.Mint(Claims(gateway), DateTimeOffset.UtcNow, TimeSpan.FromHours(1))))
        {
            Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        }

        var cache = gateway.Service<VerifiedTokenCache>();
        var before = cache.Count;
        var identity = new ClaimsIdentity([new Claim("tid", TestIds.AllowedPartner.ToString())], "Bearer");
        cache.Add(new JsonWebToken(oldKeyToken) { SigningKey = oldKey }, identity);

        Assert.Equal(before, cache.Count);
        Assert.False(cache.TryGet(oldKeyToken, out _));
        // The control: the same addition for a token of the key in force is kept.
        var newKeyToken = rotated.Mint(Claims(gateway), DateTimeOffset.UtcNow, TimeSpan.FromHours(1));
        cache.Add(new JsonWebToken(newKeyToken) { SigningKey = gateway.Service<SigningKeyManager>().Current!.SigningKeys.Single() }, identity);
        Assert.True(cache.TryGet(newKeyToken, out _));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(3)]
    public async Task Add_MoreTokensThanMaxEntries_KeepsTheNewestWithinTheLimit(int maxEntries)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:TokenCache:MaxEntries"] = maxEntries.ToString(CultureInfo.InvariantCulture));

        await PresentTokensAsync(gateway, cache => Assert.InRange(cache.Count, 1, maxEntries));
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(8, 4)]
    public async Task Add_OneTenantSendsTokenAfterToken_TakesAtMostAnEqualShare(int settledTokens, int kept)
    {
        // Any Entra tenant can mint valid tokens for a multi-tenant app; a flood from one (even a blocked one: tokens
        // are cached when authenticated, before the policy decides) must not push every other tenant's callers out.
        // Trims go down to 9 of 10 entries: a tenant holding fewer than the flooder keeps all, a larger one half.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:TokenCache:MaxEntries"] = "10");
        var cache = gateway.Service<VerifiedTokenCache>();
        var settled = Enumerable.Range(0, settledTokens).Select(_ => gateway.Token(TestIds.AllowedPartner, c => c["jti"] = Guid.NewGuid().ToString())).ToArray();
        foreach (var token in settled)
        {
            using var response = await gateway.GetAsync("/a", token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        for (var i = 0; i < 30; i++)
        {
            using var response = await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner, c => c["jti"] = Guid.NewGuid().ToString()));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.InRange(cache.Count, 1, 10);
        }

        // The older entries, nearest their end, would have gone first without regard to who holds the most.
        Assert.True(settled.Count(token => cache.TryGet(token, out _)) >= kept, "another tenant's flood took more than an equal share");
    }

    [Fact]
    public async Task Add_MoreBytesThanMaxBytes_KeepsTheNewestWithinTheLimit()
    {
        const long maxBytes = 20_000;
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:TokenCache:MaxBytes"] = maxBytes.ToString(CultureInfo.InvariantCulture));

        var (cache, presented) = await PresentTokensAsync(gateway, cache => Assert.InRange(cache.Bytes, 1, maxBytes));

        // The byte limit, not the entry limit (100,000), is what kept the cache small.
        Assert.InRange(cache.Count, 1, presented - 1);
    }

    /// <summary>
    /// Presents 25 tokens, each living longer than the one before; after each, the cache must hold the newest and keep
    /// <paramref name="withinLimit"/>; at the end the first (nearest its expiry) must be gone.
    /// </summary>
    private static async Task<(VerifiedTokenCache Cache, int Presented)> PresentTokensAsync(GatewayHarness gateway, Action<VerifiedTokenCache> withinLimit)
    {
        var tokens = Enumerable.Range(0, 25).Select(i => gateway.Token(lifetime: TimeSpan.FromMinutes(30 + i))).ToArray();
        var cache = gateway.Service<VerifiedTokenCache>();
        foreach (var token in tokens)
        {
            using var response = await gateway.GetAsync("/a", token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            withinLimit(cache);
            Assert.True(cache.TryGet(token, out _), "the newest token was evicted");
        }

        Assert.False(cache.TryGet(tokens[0], out _), "the token nearest its expiry was kept");
        return (cache, tokens.Length);
    }

    [Fact]
    public async Task RemoveExpired_EntriesNobodyPresentsAgain_SweptWithoutALookup()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:TokenCache:MaxLifetime"] = "00:00:01");
        using (var response = await gateway.GetAsync("/a", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var cache = gateway.Service<VerifiedTokenCache>();
        Assert.Equal(1, cache.Count);
        Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(cache.Count == 0 && cache.Bytes == 0), TimeSpan.FromSeconds(5)),
            "an expired entry stayed in the cache");
    }

    [Fact]
    public async Task ValidateToken_IssuerUnreachable_KnownKeysKeepWorking()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:SigningKeys:MinimumRefreshInterval"] = "00:00:01");
        using (var warmUp = await gateway.GetAsync("/a", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        // The issuer goes down: its key file disappears, so its JWKS endpoint answers 503.
        File.Delete(gateway.KeyPath);
        using (var jwks = await gateway.Client.GetAsync("/.xtac-dev-issuer/discovery/v2.0/keys"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, jwks.StatusCode);
        }

        // A token naming an unknown key forces a refresh attempt, which fails: whether the key is the issuer's is not
        // known (it may be one just rotated in), so the token is neither accepted nor refused, 503 with Retry-After...
        using var strangerKey = RSA.Create(2048);
        var strangerPath = Path.Combine(gateway.Directory, "stranger.pem");
        DevelopmentIssuer.WriteKeyFile(strangerPath, [strangerKey]);
        var stranger = DevelopmentIssuer.LoadOrCreate(strangerPath);
        using (var unknown = await gateway.GetAsync("/a", stranger.Mint(Claims(gateway), DateTimeOffset.UtcNow, TimeSpan.FromHours(1))))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unknown.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), unknown.Headers.RetryAfter?.Delta);
        }

        // ...and new tokens signed with the known key (never cached) still get in.
        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.GetAsync("/a", gateway.Token());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task ValidateToken_SignedButRefusedByTokenValidatedHandler_RefusedEveryTime()
    {
        // Microsoft.Identity.Web refuses a token with neither scp nor roles after its signature checked out: the
        // cache must not remember such a token as verified.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var claims = Claims(gateway);
        claims.Remove("scp");
        var token = gateway.Issuer.Mint(claims, DateTimeOffset.UtcNow, TimeSpan.FromHours(1));

        await AssertRefusedTwiceAndNeverCachedAsync(gateway, token);
    }

    [Fact]
    public async Task Authenticate_CachedToken_AnsweredWithoutJwtBearerHandler()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var authentications = JwtBearerAuthentications(gateway);
        var token = gateway.Token();

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.GetAsync("/a", token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(TestIds.AllowedPartner.ToString(), gateway.Backend.Requests.Last().Headers["X-Xtac-Home-Tenant-Id"]);
        }

        Assert.Equal(1, SuccessfulAuthentications(authentications));
    }

    [Theory]
    [InlineData("bearer {0}")]
    [InlineData("BEARER {0}")]
    [InlineData("Bearer    {0}")]
    public async Task Authenticate_CachedTokenSpelledAsJwtBearerAccepts_AnsweredFromCache(string header)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var authentications = JwtBearerAuthentications(gateway);
        var token = gateway.Token();
        using (var first = await gateway.GetAsync("/a", token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var respelled = await gateway.GetAsync("/a", token: null, request => request.Headers.TryAddWithoutValidation("Authorization", string.Format(CultureInfo.InvariantCulture, header, token)));

        Assert.Equal(HttpStatusCode.OK, respelled.StatusCode);
        Assert.Equal(1, SuccessfulAuthentications(authentications));
    }

    [Fact]
    public async Task Authenticate_CachedTokenUnderAnotherScheme_NotAnswered()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token();
        using (var first = await gateway.GetAsync("/a", token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var basic = await gateway.GetAsync("/a", token: null, request => request.Headers.TryAddWithoutValidation("Authorization", "Basic " + token));

        Assert.Equal(HttpStatusCode.Unauthorized, basic.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    private static async Task AssertRefusedTwiceAndNeverCachedAsync(GatewayHarness gateway, string token)
    {
        using var first = await gateway.GetAsync("/a", token);
        using var second = await gateway.GetAsync("/a", token);

        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Equal(0, gateway.Service<VerifiedTokenCache>().Count);
        Assert.Empty(gateway.Backend.Requests);
    }

    /// <summary>ASP.NET Core's own record of each time a request went through the JwtBearer handler.</summary>
    private static MetricCollector<double> JwtBearerAuthentications(GatewayHarness gateway)
        => new(gateway.Service<System.Diagnostics.Metrics.IMeterFactory>(), "Microsoft.AspNetCore.Authentication", "aspnetcore.authentication.authenticate.duration");

    // Only requests with a valid token succeed; the gateway's own JWKS fetches go through JwtBearer without one.
    private static int SuccessfulAuthentications(MetricCollector<double> authentications)
        => authentications.GetMeasurementSnapshot().Count(m => Equals(m.Tags["aspnetcore.authentication.result"], "success"));

    private static Dictionary<string, object> Claims(GatewayHarness gateway) => new()
    {
        ["iss"] = DevelopmentIssuer.IssuerFor(TestIds.AllowedPartner),
        ["aud"] = TestIds.Audience,
        ["tid"] = TestIds.AllowedPartner.ToString(),
        ["oid"] = Guid.NewGuid().ToString(),
        ["scp"] = "access_as_user",
        ["ver"] = "2.0",
    };
}

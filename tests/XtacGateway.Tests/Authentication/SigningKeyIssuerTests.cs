using System.Diagnostics;
using System.Net;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using XtacGateway.Authentication;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

/// <summary>The gateway against an Entra-shaped identity provider on loopback, in place of the development issuer.</summary>
public sealed class SigningKeyIssuerTests
{
    private static Task<GatewayHarness> StartGatewayAsync(LoopbackIssuer issuer, string minimumRefreshInterval = "00:00:05", string? unknownKeyWait = null)
        => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                s["Xtac:DevelopmentIssuer:Enabled"] = "false";
                s["Xtac:SigningKeys:MinimumRefreshInterval"] = minimumRefreshInterval;
                s["Xtac:SigningKeys:UnknownKeyWait"] = unknownKeyWait;
            },
            configureBuilder: issuer.TrustedBy);

    [Fact]
    public async Task ValidateToken_UnknownKeyWhileTheIssuerStalls_503AfterTheWaitNotTheBackchannelTimeout()
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        await using var gateway = await StartGatewayAsync(issuer, unknownKeyWait: "00:00:01");
        await AcceptedAsync(gateway, issuer.Mint("any-tenant", TestIds.AllowedPartner));

        issuer.KeysStalled = true;
        try
        {
            // A key ID not seen yet asks for a refresh that hangs: the request gives up on it after the wait (1 s here),
            // where the backchannel's own timeout (a minute) would hold it. The bound below is far above the one, far
            // below the other. Neither accepted nor refused (it may be a real token signed with a just-rotated key):
            // 503, try again, as while no key was ever read.
            using var rotated = await gateway.GetAsync("/a", issuer.Mint("rotated", TestIds.AllowedPartner)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rotated.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), rotated.Headers.RetryAfter?.Delta);
            Assert.Single(gateway.Backend.Requests);
            // The refresh did reach the issuer (one, not one per wait), and was given up on, not answered.
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(issuer.StalledKeyRequests > 0), TimeSpan.FromSeconds(10)), "no refresh reached the issuer");
            Assert.Equal(1, issuer.StalledKeyRequests);

            // Tokens signed with a known key never wait on it.
            using var known = await gateway.GetAsync("/a", issuer.Mint("any-tenant", TestIds.AllowedPartner)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        }
        finally
        {
            issuer.KeysStalled = false;
        }
    }

    [Fact]
    public async Task Authenticate_PublicRouteWithATokenWhileTheIssuerStalls_ForwardedWithoutWaitingOnIt()
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        issuer.KeysStalled = true;
        try
        {
            // No key was ever read, and the read in flight hangs: a token checked now would wait for the backchannel's
            // timeout (a minute). A public route needs no caller, so the token a browser sends along is not checked.
            await using var gateway = await StartGatewayAsync(issuer);
            using var response = await gateway.GetAsync("/public/page", issuer.Mint("any-tenant", TestIds.AllowedPartner)).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("/public/page", Assert.Single(gateway.Backend.Requests).Path);
            // Answered while the gateway's read of the keys hung at the issuer.
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(issuer.StalledKeyRequests > 0), TimeSpan.FromSeconds(10)), "no key read was held");
        }
        finally
        {
            issuer.KeysStalled = false;
        }
    }

    [Fact]
    public async Task Refresh_IssuerPublishesAnEmptyKeySet_LastGoodKeysKept()
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        await using var gateway = await StartGatewayAsync(issuer);
        await AcceptedAsync(gateway, issuer.Mint("any-tenant", TestIds.AllowedPartner));

        issuer.PublishesNoKeys = true;
        var fetches = issuer.MetadataRequests;
        // A token naming a key the gateway has not seen makes it refresh now, and read the empty set: a failed read,
        // so whether that key is the issuer's is not known. Neither accepted nor refused: 503, try again.
        using (var unknown = await gateway.GetAsync("/a", issuer.Mint("rotated", TestIds.AllowedPartner)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unknown.StatusCode);
            Assert.NotNull(unknown.Headers.RetryAfter);
        }

        Assert.True(issuer.MetadataRequests > fetches, "the unknown key did not make the gateway read the key set");
        using var after = await gateway.GetAsync("/a", issuer.Mint("any-tenant", TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var (_, keys, lastFailure) = await SigningKeysCheckAsync(gateway);
        Assert.Equal(2, keys);
        Assert.Contains("holds no signing keys", lastFailure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bound", "allowed-partner", HttpStatusCode.OK)]
    [InlineData("bound", "unlisted-tenant", HttpStatusCode.Unauthorized)]
    // Authenticated, then denied by the policy (403, not 401): the 401 above comes from the key's binding alone.
    [InlineData("any-tenant", "unlisted-tenant", HttpStatusCode.Forbidden)]
    public async Task ValidateToken_KeyBoundToATenant_SignsOnlyThatTenantsTokens(string key, string tenant, HttpStatusCode expected)
    {
        // Entra's multi-tenant key set holds keys bound to one tenant's issuer; Microsoft.Identity.Web refuses another
        // tenant's token signed with such a key.
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        await using var gateway = await StartGatewayAsync(issuer);
        var tid = tenant == "allowed-partner" ? TestIds.AllowedPartner : TestIds.UnlistedTenant;

        using var response = await gateway.GetAsync("/a", issuer.Mint(key, tid));

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Health_IssuerDownAtStartThenUp_KeysReadWithoutTrafficAndTheFailureShown()
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        issuer.Down = true;
        await using var gateway = await StartGatewayAsync(issuer, minimumRefreshInterval: "00:00:01");

        // Read once the listeners are up, before any token: an unreachable issuer shows before traffic does.
        Assert.True(await Eventually.TrueAsync(async () => (await SigningKeysCheckAsync(gateway)).Status == "Unhealthy", TimeSpan.FromSeconds(10)),
            "the signing keys were not read after start-up");
        var down = await SigningKeysCheckAsync(gateway);
        Assert.Equal(0, down.Keys);
        Assert.False(string.IsNullOrEmpty(down.LastFailure));
        Assert.True(issuer.MetadataRequests >= 1);

        // Back: the read after start-up tries again by itself (1 s, then 2 s, 4 s...), so an idle instance recovers too.
        issuer.Down = false;
        Assert.True(await Eventually.TrueAsync(async () => (await SigningKeysCheckAsync(gateway)).Status == "Healthy", TimeSpan.FromSeconds(20)),
            "the signing keys were not read again once the issuer was back, with no request to ask for them");
        var up = await SigningKeysCheckAsync(gateway);
        Assert.True(up.Keys >= 1, $"{up.Keys} keys");
        Assert.Null(up.LastFailure);
        using var response = await gateway.GetAsync("/a", issuer.Mint("bound", TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The management listener's <c>/health</c> (503 while a check is unhealthy): the signing keys check.</summary>
    private static async Task<(string? Status, int Keys, string? LastFailure)> SigningKeysCheckAsync(GatewayHarness gateway)
    {
        using var response = await gateway.Management.GetAsync("/health");
        using var report = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = report.RootElement.GetProperty("checks").GetProperty("signingKeys");
        var keys = check.TryGetProperty("keys", out var count) ? int.Parse(count.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : -1;
        return (check.GetProperty("status").GetString(), keys, check.TryGetProperty("lastFailure", out var failure) ? failure.GetString() : null);
    }

    /// <summary>A request the gateway must let through: the token's key is read and the token accepted (and cached).</summary>
    private static async Task AcceptedAsync(GatewayHarness gateway, string token)
    {
        using var response = await gateway.GetAsync("/a", token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// The issuer's any-tenant key, same key ID, bound to <paramref name="tenant"/> from now on, and the gateway made to
    /// read it: a token naming an unpublished key makes it read the keys (once the shortest interval between such reads,
    /// 1 s in these tests, has passed since the first).
    /// </summary>
    private static async Task RebindAnyTenantKeyAsync(LoopbackIssuer issuer, GatewayHarness gateway, Guid tenant)
    {
        issuer.AnyTenantKeyBoundTo = tenant;
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var unknownKey = await gateway.GetAsync("/a", issuer.Mint("not-published", TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.Unauthorized, unknownKey.StatusCode);
    }

    [Fact]
    public async Task ValidateToken_KeyReboundToOneTenantUnderItsKeyId_CachedTokensOfOtherTenantsDropped()
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.BlockedPartner);
        await using var gateway = await StartGatewayAsync(issuer, minimumRefreshInterval: "00:00:01");
        var token = issuer.Mint("any-tenant", TestIds.AllowedPartner);
        await AcceptedAsync(gateway, token);

        await RebindAnyTenantKeyAsync(issuer, gateway, TestIds.BlockedPartner);

        using var after = await gateway.GetAsync("/a", token);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Add_TokenOfAKeyRedefinedWhileItWasValidated_NotCached()
    {
        // JwtBearer verified this token with the key of when its request began; the refresh that rebound that key ID to
        // another tenant, and swept the cache, finished before the token reached the cache. Its key ID is still published.
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.BlockedPartner);
        await using var gateway = await StartGatewayAsync(issuer, minimumRefreshInterval: "00:00:01");
        await AcceptedAsync(gateway, issuer.Mint("any-tenant", TestIds.AllowedPartner));

        var keys = gateway.Service<SigningKeyManager>();
        var verifiedWith = keys.Current!.SigningKeys.Single(k => k.KeyId == "any-tenant");
        await RebindAnyTenantKeyAsync(issuer, gateway, TestIds.BlockedPartner);

        var cache = gateway.Service<VerifiedTokenCache>();
        var identity = new ClaimsIdentity([new Claim("tid", TestIds.AllowedPartner.ToString())], "Bearer");
        var stale = issuer.Mint("any-tenant", TestIds.AllowedPartner);
        cache.Add(new JsonWebToken(stale) { SigningKey = verifiedWith }, identity);
        // The same addition with the key now in force under that ID is kept: only the stale key is refused.
        var current = issuer.Mint("any-tenant", TestIds.BlockedPartner);
        cache.Add(new JsonWebToken(current) { SigningKey = keys.Current!.SigningKeys.Single(k => k.KeyId == "any-tenant") }, identity);

        Assert.NotSame(verifiedWith, keys.Current!.SigningKeys.Single(k => k.KeyId == "any-tenant"));
        Assert.False(cache.TryGet(stale, out _));
        Assert.True(cache.TryGet(current, out _));
    }

    [Theory]
    [InlineData("503")]
    [InlineData("an HTML page")]
    public async Task ValidateToken_IssuerDownBeforeAnyKeyWasRead_503WithRetryAfterAndOneFetchPerInterval(string answer)
    {
        await using var issuer = await LoopbackIssuer.StartAsync(boundTo: TestIds.AllowedPartner);
        issuer.Down = answer == "503";
        issuer.AnswersHtml = !issuer.Down;
        var interval = TimeSpan.FromSeconds(1);
        // From before start-up, which reads the keys once the listeners are up and tries again until it has them.
        var elapsed = Stopwatch.StartNew();
        await using var gateway = await StartGatewayAsync(issuer, minimumRefreshInterval: interval.ToString("c"));
        var token = issuer.Mint("any-tenant", TestIds.AllowedPartner);

        for (var i = 0; i < 5; i++)
        {
            using var response = await gateway.GetAsync("/a", token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        }

        // One attempt, then at most one per interval: a slow machine that needs more than an interval for these requests
        // may see more, never more than that. IdentityModel's document retriever retries a 503 once, so an attempt is
        // then two requests.
        var fetches = issuer.MetadataRequests;
        var mostFetches = (issuer.Down ? 2 : 1) * (1 + (int)(elapsed.Elapsed / interval));
        Assert.Empty(gateway.Backend.Requests);
        Assert.True(fetches >= 1 && fetches <= mostFetches, $"{fetches} metadata fetches in {elapsed.Elapsed.TotalMilliseconds:F0} ms, at most {mostFetches} allowed");

        issuer.Down = false;
        issuer.AnswersHtml = false;
        Assert.True(await Admin.AdminClient.EventuallyAsync(async () => (await gateway.GetAsync("/a", token)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10)),
            "the gateway did not recover once the issuer was back");
    }
}

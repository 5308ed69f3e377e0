using System.Security.Claims;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.Authentication;
using XtacGateway.LoadTests;

namespace XtacGateway.Benchmarks;

/// <summary>
/// The verified-token cache as the authentication step uses it on every request: a lookup by the span of the
/// <c>Authorization</c> header, with 10,000 RS256 tokens of the load test's shape cached.
/// </summary>
[MemoryDiagnoser]
public class TokenCacheBenchmarks
{
    private const int CachedTokens = 10_000;

    private ServiceProvider _services = null!;
    private VerifiedTokenCache _cache = null!;
    private string _cachedHeader = null!;
    private string _unknownHeader = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = GatewayServices.WithTelemetry();
        services.AddOptions<SigningKeyOptions>();
        services.AddSingleton<SigningKeyManager>();
        services.AddSingleton<VerifiedTokenCache>();
        _services = services.BuildServiceProvider();
        _cache = _services.GetRequiredService<VerifiedTokenCache>();

        using var rsa = RSA.Create(2048);
        var credentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "benchmark" }, SecurityAlgorithms.RsaSha256);

        // The cache keeps only tokens verified by a key of the set in force: the key manager reads the key from an
        // issuer answering in memory, and each token names that key object as JwtBearer's verification would.
        var keys = _services.GetRequiredService<SigningKeyManager>();
        keys.Attach("http://issuer.invalid/.well-known/openid-configuration", new HttpClient(new InMemoryIssuer(rsa.ExportParameters(false))), requireHttps: false);
        var signingKey = keys.GetConfigurationAsync(CancellationToken.None).GetAwaiter().GetResult().SigningKeys.Single();
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var identity = new ClaimsIdentity([new Claim("tid", LoadTestPolicy.AllowedPartner.ToString())], "Bearer");
        var now = DateTime.UtcNow;
        string? last = null;
        for (var i = 0; i < CachedTokens; i++)
        {
            var oid = new Guid($"{i:x8}-0000-4000-8000-00000000ab00");
            last = handler.CreateToken(new SecurityTokenDescriptor
            {
                Claims = new Dictionary<string, object>
                {
                    ["iss"] = $"https://login.microsoftonline.com/{LoadTestPolicy.AllowedPartner}/v2.0",
                    ["aud"] = "api://xtac-load-test",
                    ["tid"] = LoadTestPolicy.AllowedPartner.ToString(),
                    ["oid"] = oid.ToString(),
                    ["sub"] = oid.ToString("N"),
                    ["ver"] = "2.0",
                    ["scp"] = "access_as_user",
                    ["amr"] = new[] { "pwd" },
                },
                IssuedAt = now,
                NotBefore = now,
                Expires = now.AddHours(2),
                SigningCredentials = credentials,
            });
            _cache.Add(new JsonWebToken(last) { SigningKey = signingKey }, identity);
        }

        if (_cache.Count != CachedTokens)
        {
            throw new InvalidOperationException($"{_cache.Count} tokens cached, expected {CachedTokens}.");
        }

        _cachedHeader = $"Bearer {last}";
        // Same length and the same header and payload, one signature character changed: a miss that has to be told
        // apart from a cached token character by character.
        var forged = last!.ToCharArray();
        forged[^2] = forged[^2] == 'A' ? 'B' : 'A';
        _unknownHeader = $"Bearer {new string(forged)}";
        if (!Lookup(_cachedHeader) || Lookup(_unknownHeader))
        {
            throw new InvalidOperationException("The cached token must hit and the forged one must miss.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "cached token (hit)")]
    public bool Hit() => Lookup(_cachedHeader);

    [Benchmark(Description = "same token, one signature character changed (miss)")]
    public bool Miss() => Lookup(_unknownHeader);

    private bool Lookup(string header)
        => VerifiedTokenAuthenticationMiddleware.TryReadBearerToken(header, out var token) && _cache.TryGet(token, out _);

    /// <summary>An issuer's metadata and its one-key JWKS.</summary>
    private sealed class InMemoryIssuer(RSAParameters key) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var json = request.RequestUri!.AbsolutePath.EndsWith("/keys", StringComparison.Ordinal)
                ? $$"""{"keys":[{"kty":"RSA","use":"sig","kid":"benchmark","n":"{{Base64UrlEncoder.Encode(key.Modulus)}}","e":"{{Base64UrlEncoder.Encode(key.Exponent)}}"}]}"""
                : """{"issuer":"http://issuer.invalid/","jwks_uri":"http://issuer.invalid/keys"}""";
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StringContent(json) });
        }
    }
}

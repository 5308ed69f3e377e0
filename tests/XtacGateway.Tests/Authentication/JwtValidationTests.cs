using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

/// <summary>
/// Every token the gateway must refuse before enforcement: a 401 Bearer challenge with <c>error="invalid_token"</c>,
/// and the upstream never called. Controls show the same shapes, made properly, are let in.
/// </summary>
public sealed class JwtValidationTests
{
    public static TheoryData<string> RefusedTokens =>
    [
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "tampered-payload",
        "bad-signature",
        "alg-none",
        "alg-none-with-kid",
        "unknown-kid",
        "issuer-key-under-unknown-kid",
        "issuer-key-without-kid",
        "hs256-with-public-key-der",
        "hs256-with-public-key-pem",
        "hs256-with-public-key-modulus",
        "malformed-base64",
        "not-a-jwt",
        "oversized-64kb",
        "id-token-with-app-roles",
        "payload-escapes-half-a-surrogate-pair",
        "header-escapes-half-a-surrogate-pair",
    ];

    [Fact]
    public async Task Authenticate_ValidToken_IsForwarded()
    {
        // The control for every theory row below: the harness's own token gets in.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var response = await gateway.GetAsync("/orders", gateway.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task Authenticate_RefusedToken_Returns401InvalidTokenAndNeverCallsBackend(string kind)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = Craft(gateway, kind);

        using var response = await gateway.GetAsync("/orders", token);

        ProblemAssert.Unauthorized(response, tokenSent: true);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("sub equal to oid")]
    [InlineData("idtyp app")]
    [InlineData("a user's, with app roles and no scope")]
    public async Task Authenticate_AccessTokenWithRolesAndNoScope_IsForwarded(string kind)
    {
        // The controls for the ID token above: access tokens with roles and no scope, which name their client (azp).
        // An app's own (sub equal to oid, or idtyp app), or a user's for a client with no delegated permission.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var app = Guid.NewGuid().ToString();
        var token = gateway.Token(claims: c =>
        {
            c["scp"] = null;
            c["azp"] = Guid.NewGuid().ToString();
            c["roles"] = new List<object> { "Orders.Read" };
            c["oid"] = app;
            c["sub"] = kind == "sub equal to oid" ? app : "another-subject";
            c["idtyp"] = kind == "idtyp app" ? "app" : null;
        });

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Authenticate_ExpiredWithinClockSkew_IsStillAccepted()
    {
        // Shows the "expired" row fails for being past the 5 minute skew, not for some other reason.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(issuedAt: DateTimeOffset.UtcNow.AddMinutes(-62), lifetime: TimeSpan.FromHours(1));

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Authenticate_ReassembledUnchangedToken_IsAccepted()
    {
        // Splitting and re-encoding the signature changes nothing: only a real change is refused.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var parts = Jwt.Parts(gateway.Token());
        var signature = Base64UrlEncoder.DecodeBytes(parts[2]);
        var token = $"{parts[0]}.{parts[1]}.{Base64UrlEncoder.Encode(signature)}";

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Authenticate_HandCraftedRs256WithIssuerKey_IsAccepted()
    {
        // The hand-crafting path with the real key and RS256 gets in, so the none/HS256 rows fail on the algorithm alone.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = HandSigned(gateway, "RS256", gateway.Issuer.SigningKey.KeyId, input => SignRs256(gateway.Issuer.SigningKey, input));

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Authenticate_LargeTokenWithinLimit_IsAccepted()
    {
        // Tokens with many groups run to several KB; the size limit refuses the hostile 64 KB one, not these.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var groups = Enumerable.Range(0, 150).Select(_ => (object)Guid.NewGuid().ToString()).ToList();
        var token = gateway.Token(claims: c => c["groups"] = groups);
        Assert.InRange(token.Length, 8 * 1024, 15 * 1024);

        using var response = await gateway.GetAsync("/orders", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Authenticate_NoExpiry_Returns401InvalidTokenAndNeverCallsBackend()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var payload = Jwt.PayloadValues(gateway.Token());
        payload.Remove("exp");
        var token = Jwt.Create(
            new Dictionary<string, object?> { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = gateway.Issuer.SigningKey.KeyId },
            payload,
            input => SignRs256(gateway.Issuer.SigningKey, input));

        using var response = await gateway.GetAsync("/orders", token);

        ProblemAssert.Unauthorized(response, tokenSent: true);
        Assert.Empty(gateway.Backend.Requests);
    }

    private static string Craft(GatewayHarness gateway, string kind)
    {
        var now = DateTimeOffset.UtcNow;
        var keyId = gateway.Issuer.SigningKey.KeyId;
        switch (kind)
        {
            case "expired":
                // exp 10 minutes ago: beyond the default 5 minute clock skew.
                return gateway.Token(issuedAt: now.AddMinutes(-70), lifetime: TimeSpan.FromHours(1));
            case "not-yet-valid":
                // nbf (and iat) 10 minutes ahead.
                return gateway.Token(issuedAt: now.AddMinutes(10), lifetime: TimeSpan.FromHours(1));
            case "wrong-audience":
                return gateway.Token(claims: c => c["aud"] = Guid.NewGuid().ToString());
            case "id-token-with-app-roles":
                // An ID token of the same app registration: the audience is the client ID, the user's app roles are in
                // it, there is no scope, and the subject is pairwise, not the object ID. It names the user to the app.
                return gateway.Token(claims: c =>
                {
                    c["scp"] = null;
                    c["roles"] = new List<object> { "Orders.Read" };
                    c["sub"] = "pairwise-subject-of-the-user";
                    c["nonce"] = "n-0S6_WzA2Mj";
                });
            case "tampered-payload":
            {
                // Claim MFA and another user in the payload, keep the original signature.
                var original = gateway.Token();
                var parts = Jwt.Parts(original);
                var payload = Jwt.PayloadValues(original);
                payload["amr"] = new[] { "pwd", "mfa" };
                payload["oid"] = Guid.NewGuid().ToString();
                return $"{parts[0]}.{Jwt.Encode(payload)}.{parts[2]}";
            }

            case "payload-escapes-half-a-surrogate-pair":
            case "header-escapes-half-a-surrogate-pair":
            {
                // Well-formed JSON that is no text: a reader throws when it reads the string, before any signature check.
                var parts = Jwt.Parts(gateway.Token());
                var part = kind.StartsWith("payload", StringComparison.Ordinal) ? 1 : 0;
                var json = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[part]));
                parts[part] = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes("{\"x\":\"\\ud800\"," + json[1..]));
                return string.Join('.', parts);
            }

            case "bad-signature":
            {
                var parts = Jwt.Parts(gateway.Token());
                var signature = Base64UrlEncoder.DecodeBytes(parts[2]);
                signature[0] ^= 0xFF;
                signature[^1] ^= 0x01;
                return $"{parts[0]}.{parts[1]}.{Base64UrlEncoder.Encode(signature)}";
            }

            case "alg-none":
                return Jwt.Create(new Dictionary<string, object?> { ["alg"] = "none", ["typ"] = "JWT" }, Jwt.PayloadValues(gateway.Token()));
            case "alg-none-with-kid":
                return Jwt.Create(new Dictionary<string, object?> { ["alg"] = "none", ["typ"] = "JWT", ["kid"] = keyId }, Jwt.PayloadValues(gateway.Token()));
            case "unknown-kid":
            {
                using var rsa = RSA.Create(2048);
                var stranger = new RsaSecurityKey(rsa.ExportParameters(includePrivateParameters: true)) { KeyId = "not-in-the-jwks" };
                var descriptor = new SecurityTokenDescriptor
                {
                    Claims = Jwt.PayloadValues(gateway.Token()).ToDictionary(p => p.Key, p => p.Value!),
                    SigningCredentials = new SigningCredentials(stranger, SecurityAlgorithms.RsaSha256),
                };
                return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
            }

            case "issuer-key-under-unknown-kid":
                // Signed by the issuer's key but naming none it publishes: refused without trying every published key,
                // so a stream of such tokens costs one key lookup each, not one RSA check per key.
                return HandSigned(gateway, "RS256", "not-in-the-jwks", input => SignRs256(gateway.Issuer.SigningKey, input));
            case "issuer-key-without-kid":
                return Jwt.Create(new Dictionary<string, object?> { ["alg"] = "RS256", ["typ"] = "JWT" }, Jwt.PayloadValues(gateway.Token()), input => SignRs256(gateway.Issuer.SigningKey, input));
            case "hs256-with-public-key-der":
                // Key confusion: the RSA public key (which anyone can fetch from the JWKS) used as an HMAC secret.
                return HandSigned(gateway, "HS256", keyId, input => HMACSHA256.HashData(PublicKeyDer(gateway), input));
            case "hs256-with-public-key-pem":
                return HandSigned(gateway, "HS256", keyId, input => HMACSHA256.HashData(Encoding.ASCII.GetBytes(PublicKeyPem(gateway)), input));
            case "hs256-with-public-key-modulus":
                return HandSigned(gateway, "HS256", keyId, input => HMACSHA256.HashData(gateway.Issuer.SigningKey.Parameters.Modulus!, input));
            case "malformed-base64":
            {
                var parts = Jwt.Parts(gateway.Token());
                return $"{parts[0]}.{parts[1][..10]}*!~{parts[1][10..]}.{parts[2]}";
            }

            case "not-a-jwt":
                return "this-is-not-a-token";
            case "oversized-64kb":
                // Correctly signed, made 64 KB large by one claim: refused as 401 (not let through, not answered 431).
                return gateway.Token(claims: c => c["padding"] = new string('x', 64 * 1024));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static string HandSigned(GatewayHarness gateway, string alg, string kid, Func<byte[], byte[]> sign)
        => Jwt.Create(new Dictionary<string, object?> { ["alg"] = alg, ["typ"] = "JWT", ["kid"] = kid }, Jwt.PayloadValues(gateway.Token()), sign);

    private static byte[] SignRs256(RsaSecurityKey key, byte[] input)
    {
        using var rsa = RSA.Create(key.Parameters);
        return rsa.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    private static byte[] PublicKeyDer(GatewayHarness gateway)
    {
        using var rsa = RSA.Create(PublicHalf(gateway));
        return rsa.ExportSubjectPublicKeyInfo();
    }

    private static string PublicKeyPem(GatewayHarness gateway)
    {
        using var rsa = RSA.Create(PublicHalf(gateway));
        return rsa.ExportSubjectPublicKeyInfoPem();
    }

    private static RSAParameters PublicHalf(GatewayHarness gateway)
    {
        var p = gateway.Issuer.SigningKey.Parameters;
        return new RSAParameters { Modulus = p.Modulus, Exponent = p.Exponent };
    }
}

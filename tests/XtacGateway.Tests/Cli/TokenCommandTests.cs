using System.Net;
using System.Text.Json;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

/// <summary>
/// The <c>token</c> command reads its key path and audience from configuration, environment variables included,
/// so these tests set them (process-wide) inside a collection that runs alone.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class TokenCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("xtac-token-").FullName;

    private string KeyPath => Path.Combine(_directory, "dev-keys.pem");

    [Fact]
    public async Task Token_GivenOptions_PrintsOneJwtCarryingThem()
    {
        var tenant = Guid.NewGuid();
        var oid = Guid.NewGuid();
        var groups = new[] { Guid.NewGuid(), Guid.NewGuid() };
        var role = new Guid("62e90394-69f5-4237-9190-012177145e10");
        const string Idp = "https://sts.windows.net/bbbbbbbb-0000-4000-8000-000000000002/";

        var result = await RunTokenAsync(
            "--tenant", tenant.ToString(), "--oid", oid.ToString(),
            "--group", groups[0].ToString(), "--group", groups[1].ToString(),
            "--amr", "pwd", "--amr", "mfa", "--wids", role.ToString(), "--idp", Idp);

        var token = SingleLineJwt(result);
        var payload = Jwt.Payload(token);
        Assert.Equal(tenant.ToString(), payload.GetProperty("tid").GetString());
        Assert.Equal(oid.ToString(), payload.GetProperty("oid").GetString());
        Assert.Equal(groups.Select(g => g.ToString()), Strings(payload.GetProperty("groups")));
        Assert.Equal(["pwd", "mfa"], Strings(payload.GetProperty("amr")));
        Assert.Equal([role.ToString()], Strings(payload.GetProperty("wids")));
        Assert.Equal(Idp, payload.GetProperty("idp").GetString());
        Assert.Equal(TestIds.Audience, payload.GetProperty("aud").GetString());
        Assert.Equal(global::XtacGateway.Authentication.DevelopmentIssuer.IssuerFor(tenant), payload.GetProperty("iss").GetString());
        Assert.Equal("RS256", Jwt.Header(token).GetProperty("alg").GetString());
    }

    [Theory]
    [InlineData("not-a-key")]
    [InlineData(null)]
    public async Task Token_KeyFileUnusable_FailsNamingThePath(string? content)
    {
        // A file where a folder should be, or a file that holds no key: a message naming the path, not a stack trace.
        var blocker = Path.Combine(_directory, "blocker");
        await File.WriteAllTextAsync(blocker, content ?? "");
        var keyPath = content is null ? Path.Combine(blocker, "keys.pem") : blocker;

        var result = await RunTokenWithKeyAsync(keyPath);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"'{keyPath}'", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Token_SettingsFileMalformed_UsageErrorNamingTheFile()
    {
        // The environment's settings file beside the program, as a command finds it when the folder has none.
        const string Environment = "XtacMalformedSettingsTest";
        var settings = Path.Combine(AppContext.BaseDirectory, $"appsettings.{Environment}.json");
        await File.WriteAllTextAsync(settings, "{ \"Xtac\": { ");
        try
        {
            using var environment = new EnvironmentScope(new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = Environment });

            var result = await RunTokenAsync();

            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"appsettings.{Environment}.json", result.Stderr, StringComparison.Ordinal);
            Assert.Equal("", result.Stdout);
        }
        finally
        {
            File.Delete(settings);
        }
    }

    [Fact]
    public async Task Token_NoOptions_DefaultsToSamplePartnerAndPassword()
    {
        var result = await RunTokenAsync();

        var payload = Jwt.Payload(SingleLineJwt(result));
        Assert.Equal(TestIds.AllowedPartner.ToString(), payload.GetProperty("tid").GetString());
        Assert.True(Guid.TryParse(payload.GetProperty("oid").GetString(), out _));
        Assert.Equal(["pwd"], Strings(payload.GetProperty("amr")));
        Assert.False(payload.TryGetProperty("groups", out _));
        Assert.False(payload.TryGetProperty("wids", out _));
        var lifetime = payload.GetProperty("exp").GetInt64() - payload.GetProperty("iat").GetInt64();
        Assert.Equal(3600, lifetime);
    }

    [Fact]
    public async Task Token_RepeatedClaim_BecomesTypedArray()
    {
        var result = await RunTokenAsync("--claim", "x=1", "--claim", "x=2", "--claim", "flag=true", "--claim", "off=false", "--claim", "name=contoso", "--claim", "ratio=0.5");

        var payload = Jwt.Payload(SingleLineJwt(result));
        var x = payload.GetProperty("x");
        Assert.Equal(JsonValueKind.Array, x.ValueKind);
        Assert.Equal([1L, 2L], x.EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(JsonValueKind.True, payload.GetProperty("flag").ValueKind);
        Assert.Equal(JsonValueKind.False, payload.GetProperty("off").ValueKind);
        Assert.Equal("contoso", payload.GetProperty("name").GetString());
        Assert.Equal(0.5, payload.GetProperty("ratio").GetDouble());
    }

    [Fact]
    public async Task Token_MintedByCommand_IsAcceptedByGateway()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var oid = Guid.NewGuid();

        var result = await RunTokenWithKeyAsync(gateway.KeyPath, "--tenant", TestIds.AllowedPartner.ToString(), "--oid", oid.ToString());
        using var response = await gateway.GetAsync("/orders", SingleLineJwt(result));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(gateway.Backend.Requests);
        Assert.Equal(TestIds.AllowedPartner.ToString(), seen.Headers["X-Xtac-Home-Tenant-Id"]);
        Assert.Equal(oid.ToString(), seen.Headers["X-Xtac-User-Object-Id"]);
        Assert.Equal("Allowed", seen.Headers["X-Xtac-Decision"]);
    }

    [Fact]
    public async Task Token_MintedWithMfaByCommand_PassesMfaRoute()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(allowedPartnerTrustsMfa: true));

        var withoutMfa = await RunTokenWithKeyAsync(gateway.KeyPath);
        var withMfa = await RunTokenWithKeyAsync(gateway.KeyPath, "--amr", "pwd", "--amr", "mfa");
        using var denied = await gateway.GetAsync("/mfa/x", SingleLineJwt(withoutMfa));
        using var allowed = await gateway.GetAsync("/mfa/x", SingleLineJwt(withMfa));

        await ProblemAssert.ForbiddenAsync(denied, "MfaRequired", "AADSTS50076", TestIds.AllowedPartner);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Token_AppOnlyWithRole_AnAppsOwnTokenTheAdminApiTakes()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Admin:ReadAppRole"] = "Policy.Read");
        var client = Guid.NewGuid();
        var servicePrincipal = Guid.NewGuid();

        var result = await RunTokenWithKeyAsync(gateway.KeyPath, "--tenant", TestIds.ResourceTenant.ToString(), "--oid", servicePrincipal.ToString(),
            "--app", client.ToString(), "--role", "Policy.Read");
        var token = SingleLineJwt(result);
        using var read = await gateway.AdminWithTokenAsync(HttpMethod.Get, $"{AdminClient.Base}/default", token);
        // Another app role: Microsoft.Identity.Web lets in an app-only token only with some role.
        var otherRole = SingleLineJwt(await RunTokenWithKeyAsync(gateway.KeyPath, "--tenant", TestIds.ResourceTenant.ToString(), "--app", client.ToString(), "--role", "Orders.Read"));
        using var refused = await gateway.AdminWithTokenAsync(HttpMethod.Get, $"{AdminClient.Base}/default", otherRole);

        var payload = Jwt.Payload(token);
        Assert.False(payload.TryGetProperty("scp", out _));
        Assert.False(payload.TryGetProperty("amr", out _));
        Assert.Equal(client.ToString(), payload.GetProperty("azp").GetString());
        Assert.Equal("app", payload.GetProperty("idtyp").GetString());
        Assert.Equal(servicePrincipal.ToString(), payload.GetProperty("sub").GetString());
        Assert.Equal(["Policy.Read"], Strings(payload.GetProperty("roles")));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        await ProblemAssert.InsufficientScopeAsync(refused, "app roles in the token's 'roles': Policy.Read.");
    }

    [Fact]
    public async Task Token_AppOnlyWithAmr_UsageErrorNamingIt()
    {
        var result = await RunTokenAsync("--app", Guid.NewGuid().ToString(), "--amr", "mfa");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("'--amr'", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_SignedWithAnotherKeyFile_IsRefusedByGateway()
    {
        // The control for the acceptance test: a key the gateway does not publish gets a 401.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var result = await RunTokenWithKeyAsync(KeyPath);
        using var response = await gateway.GetAsync("/orders", SingleLineJwt(result));

        ProblemAssert.Unauthorized(response, tokenSent: true);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Token_NegativeExpiresIn_MintsTokenTheGatewayRefuses()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        // Beyond the 5 minute clock skew.
        var result = await RunTokenWithKeyAsync(gateway.KeyPath, "--expires-in", "-900");
        var token = SingleLineJwt(result);
        using var response = await gateway.GetAsync("/orders", token);

        var payload = Jwt.Payload(token);
        Assert.True(payload.GetProperty("exp").GetInt64() < DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.True(payload.GetProperty("nbf").GetInt64() < payload.GetProperty("exp").GetInt64());
        ProblemAssert.Unauthorized(response, tokenSent: true);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("--group", "not-a-guid")]
    [InlineData("--tenant", "contoso")]
    [InlineData("--claim", "novalue")]
    [InlineData("--expires-in", "soon")]
    [InlineData("--app", "my-app")]
    [InlineData("--audience", "x")]
    public async Task Token_BadOption_ExitsTwoWithNothingOnStdout(string option, string value)
    {
        var result = await RunTokenAsync(option, value);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains(option == "--audience" ? option : value, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x=NaN")]
    [InlineData("x=Infinity")]
    [InlineData("x=-Infinity")]
    public async Task Token_NonFiniteNumberClaim_DoesNotCrash(string claim)
    {
        var result = await RunTokenAsync("--claim", claim);

        // Either refused as a usage error, or kept as the text it is.
        if (result.ExitCode == 2)
        {
            Assert.Equal(string.Empty, result.Stdout);
            Assert.Contains(claim, result.Stderr, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(claim[2..], Jwt.Payload(SingleLineJwt(result)).GetProperty("x").GetString());
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    private Task<CliResult> RunTokenAsync(params string[] options) => RunTokenWithKeyAsync(KeyPath, options);

    /// <summary>Runs <c>token</c> with the key file and audience given through environment variables, as a shell user would.</summary>
    private static async Task<CliResult> RunTokenWithKeyAsync(string keyPath, params string[] options)
    {
        using var environment = new EnvironmentScope(new Dictionary<string, string?>
        {
            ["Xtac__DevelopmentIssuer__KeyPath"] = keyPath,
            ["AzureAd__ClientId"] = TestIds.Audience,
        });
        return await CliRunner.RunAsync(["token", .. options]);
    }

    private static string SingleLineJwt(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(string.Empty, result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        var token = Assert.Single(lines);
        Assert.Equal(3, token.Split('.').Length);
        Assert.All(token.Split('.'), part => Assert.Matches("^[A-Za-z0-9_-]+$", part));
        return token;
    }

    private static IEnumerable<string?> Strings(JsonElement array)
    {
        Assert.Equal(JsonValueKind.Array, array.ValueKind);
        return array.EnumerateArray().Select(e => e.GetString()).ToArray();
    }
}

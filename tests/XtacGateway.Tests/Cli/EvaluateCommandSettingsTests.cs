using System.Text.Json;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

/// <summary><c>evaluate</c> with the gateway's settings given in environment variables (process-wide, so run on its own).</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class EvaluateCommandSettingsTests
{
    [Fact]
    public async Task Evaluate_ClaimNamesInSettings_ReadsTheCallerAsTheGatewayDoes()
    {
        // A gateway configured to find the home tenant under another claim name must be matched by the command, or the
        // command would answer for a caller the gateway never sees.
        using var input = CliRunner.Write("request.json", $$"""
            [ { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "home_tenant": "{{TestIds.ResourceTenant}}", "oid": "{{Guid.NewGuid()}}" } } ]
            """);
        using var settings = new EnvironmentScope(new Dictionary<string, string?> { ["Xtac__Claims__TenantId"] = "home_tenant" });

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path, "--resource-tenant", TestIds.ResourceTenant.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var decision = Assert.Single(json.RootElement.EnumerateArray().ToArray());
        Assert.Equal("allow", decision.GetProperty("decision").GetString());
        Assert.Equal("InternalUser", decision.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Evaluate_EmptyClaimNameInSettings_ExitsTwoNamingItAsTheGatewayRefusesIt()
    {
        // "device_trust_type": "" would count as hybrid joined under an empty value name: the gateway refuses to start
        // with it, and the command must not answer for that gateway either.
        using var input = CliRunner.Write("request.json", $$"""
            [ { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.AllowedPartner}}" } } ]
            """);
        using var settings = new EnvironmentScope(new Dictionary<string, string?> { ["Xtac__Claims__HybridJoinedTrustType"] = " " });

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path, "--resource-tenant", TestIds.ResourceTenant.ToString());

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("'Xtac:Claims:HybridJoinedTrustType' is empty", result.Stderr, StringComparison.Ordinal);
    }
}

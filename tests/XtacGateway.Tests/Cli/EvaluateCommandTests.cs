using System.Text.Json;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

public sealed class EvaluateCommandTests
{
    private static readonly string[] DecisionFields = ["decision", "reason", "errorCode", "homeTenantId", "settingsSource", "detail"];

    [Fact]
    public async Task Evaluate_SampleRequests_ReturnsThreeDecisionsInOrder()
    {
        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", SamplePaths.EvaluateRequests);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(string.Empty, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(JsonValueKind.Array, json.RootElement.ValueKind);
        var decisions = json.RootElement.EnumerateArray().ToArray();
        Assert.Equal(3, decisions.Length);
        foreach (var decision in decisions)
        {
            Assert.Equal(DecisionFields.Order(StringComparer.Ordinal), decision.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.False(string.IsNullOrWhiteSpace(decision.GetProperty("detail").GetString()));
        }

        AssertDecision(decisions[0], "allow", "Allowed", null, TestIds.AllowedPartner, "partner");
        AssertDecision(decisions[1], "deny", "MfaRequired", "AADSTS50076", TestIds.AllowedPartner, "partner");
        AssertDecision(decisions[2], "deny", "InboundPolicyBlocked", "AADSTS500213", TestIds.BlockedPartner, "partner");
    }

    [Fact]
    public async Task Evaluate_SingleObject_ReturnsSingleObject()
    {
        using var input = CliRunner.Write("request.json", $$"""
            {
              "resourceTenantId": "{{TestIds.ResourceTenant}}",
              "application": { "appId": "{{TestIds.OpenApp}}" },
              "claims": { "tid": "{{TestIds.UnlistedTenant}}", "oid": "{{Guid.NewGuid()}}" }
            }
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        AssertDecision(json.RootElement, "deny", "InboundPolicyBlocked", "AADSTS500213", TestIds.UnlistedTenant, "default");
    }

    [Fact]
    public async Task Evaluate_ResourceTenantOption_AppliesToRequestsWithoutOne()
    {
        using var input = CliRunner.Write("request.json", $$"""
            [ { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.ResourceTenant}}", "oid": "{{Guid.NewGuid()}}" } } ]
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path, "--resource-tenant", TestIds.ResourceTenant.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        AssertDecision(Assert.Single(json.RootElement.EnumerateArray().ToArray()), "allow", "InternalUser", null, TestIds.ResourceTenant, "none");
    }

    [Fact]
    public async Task Evaluate_InvalidPolicy_ExitsTwoWithReasonsOnStderrOnly()
    {
        using var policy = CliRunner.Write("policy.json", TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.Half("blocked", "AllUsers", "user", "AllApplications", appAccess: "maybe"))));

        var result = await CliRunner.RunAsync("evaluate", "--policy", policy.Path, "--input", SamplePaths.EvaluateRequests);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("$.partners[0].b2bDirectConnectInbound.applications.accessType", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_InvalidPolicyAndNoRequests_ExitsTwo()
    {
        using var policy = CliRunner.Write("policy.json", """{ "partners": "none" }""");
        using var input = CliRunner.Write("request.json", "[]");

        var result = await CliRunner.RunAsync("evaluate", "--policy", policy.Path, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("$.partners", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_AppIdNotGuid_ExitsTwoNamingJsonPath()
    {
        using var input = CliRunner.Write("request.json", $$"""
            [
              { "resourceTenantId": "{{TestIds.ResourceTenant}}", "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.AllowedPartner}}" } },
              { "resourceTenantId": "{{TestIds.ResourceTenant}}", "application": { "appId": "orders-app" }, "claims": { "tid": "{{TestIds.AllowedPartner}}" } }
            ]
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("$[1].application", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("orders-app", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("$[0]", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_MissingClaimsAndUnknownControl_ExitsTwoNamingEachPath()
    {
        using var input = CliRunner.Write("request.json", $$"""
            {
              "resourceTenantId": "{{TestIds.ResourceTenant}}",
              "application": { "appId": "{{TestIds.OpenApp}}", "grantControls": { "operator": "OR", "builtInControls": ["passwordless"] } }
            }
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("$.application", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("passwordless", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.claims", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"builtInControls\": \"mfa\"", "$.application.grantControls.builtInControls")]
    [InlineData("\"operator\": 1, \"builtInControls\": [\"mfa\"]", "$.application.grantControls.operator")]
    public async Task Evaluate_GrantControlsOfAnotherShape_ExitsTwoNamingIt(string grantControls, string path)
    {
        // Read as no controls, "builtInControls": "mfa" would allow what the route requiring MFA denies.
        using var input = CliRunner.Write("request.json", $$"""
            {
              "resourceTenantId": "{{TestIds.ResourceTenant}}",
              "application": { "appId": "{{TestIds.MfaApp}}", "grantControls": { {{grantControls}} } },
              "claims": { "tid": "{{TestIds.AllowedPartner}}" }
            }
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains(path, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_NoResourceTenantAnywhere_ExitsTwo()
    {
        using var input = CliRunner.Write("request.json", $$"""
            { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.AllowedPartner}}" } }
            """);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("resourceTenantId", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_MalformedInput_ExitsTwoNamingLine()
    {
        using var input = CliRunner.Write("request.json", "[\n  { \"application\": \n");

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("line", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_FilesWithByteOrderMark_ReadAsWithout()
    {
        using var policy = CliRunner.Write("policy.json", "\uFEFF" + File.ReadAllText(SamplePaths.Policy));
        using var input = CliRunner.Write("requests.json", "\uFEFF" + File.ReadAllText(SamplePaths.EvaluateRequests));

        var marked = await CliRunner.RunAsync("evaluate", "--policy", policy.Path, "--input", input.Path);
        var plain = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", SamplePaths.EvaluateRequests);

        Assert.True(marked.ExitCode == 0, marked.ToString());
        Assert.Equal(plain.Stdout, marked.Stdout);
    }

    [Fact]
    public async Task Evaluate_InputNotUtf8_ExitsTwoNamingLineAndByte()
    {
        using var input = CliRunner.Write("request.json", "[\n  { \"application\": { \"appId\": \"x\" }, \"claims\": {} }\n]\n");
        var bytes = File.ReadAllBytes(input.Path);
        bytes[Array.IndexOf(bytes, (byte)'x')] = 0xFF;
        File.WriteAllBytes(input.Path, bytes);

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", input.Path);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("Not UTF-8 at line 2, byte 32", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_MissingInputFile_ExitsTwo()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"xtac-missing-{Guid.NewGuid():N}.json");

        var result = await CliRunner.RunAsync("evaluate", "--policy", SamplePaths.Policy, "--input", missing);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains(missing, result.Stderr, StringComparison.Ordinal);
    }

    private static void AssertDecision(JsonElement decision, string verdict, string reason, string? errorCode, Guid homeTenantId, string settingsSource)
    {
        Assert.Equal(verdict, decision.GetProperty("decision").GetString());
        Assert.Equal(reason, decision.GetProperty("reason").GetString());
        if (errorCode is null)
        {
            Assert.Equal(JsonValueKind.Null, decision.GetProperty("errorCode").ValueKind);
        }
        else
        {
            Assert.Equal(errorCode, decision.GetProperty("errorCode").GetString());
        }

        Assert.Equal(homeTenantId.ToString(), decision.GetProperty("homeTenantId").GetString());
        Assert.Equal(settingsSource, decision.GetProperty("settingsSource").GetString());
        Assert.False(string.IsNullOrWhiteSpace(decision.GetProperty("detail").GetString()));
    }
}

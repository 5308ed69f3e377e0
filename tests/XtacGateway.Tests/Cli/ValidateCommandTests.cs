using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

public sealed class ValidateCommandTests
{
    [Fact]
    public async Task Validate_SamplePolicy_ExitsZero()
    {
        var result = await CliRunner.RunAsync("validate", "--policy", SamplePaths.Policy);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("valid (2 partners)", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stderr);
    }

    [Fact]
    public async Task Validate_SamplePolicyWithResourceTenant_ExitsZero()
    {
        var result = await CliRunner.RunAsync("validate", "--policy", SamplePaths.Policy, "--resource-tenant", TestIds.ResourceTenant.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task Validate_PartnerIsResourceTenant_ExitsOneNamingTenantIdPath()
    {
        using var file = CliRunner.Write("policy.json", TestPolicies.Document(TestPolicies.Partner(TestIds.ResourceTenant, TestPolicies.AllowedAll)));

        var result = await CliRunner.RunAsync("validate", "--policy", file.Path, "--resource-tenant", TestIds.ResourceTenant.ToString());

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("$.partners[0].tenantId", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_InvalidPolicy_ExitsOnePrintingEveryErrorPath()
    {
        // Two independent errors in two partners: both are reported, each with its JSON path.
        var policy = TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.Half("blocked", "AllUsers", "user", "AllApplications", appAccess: "maybe")),
            TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.Half("allowed", "AllUsers", "group", "AllApplications")));
        using var file = CliRunner.Write("policy.json", policy);

        var result = await CliRunner.RunAsync("validate", "--policy", file.Path);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("2 error(s)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("$.partners[0].b2bDirectConnectInbound.applications.accessType:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("$.partners[1].b2bDirectConnectInbound.usersAndGroups.targets[0]", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_MalformedJson_ExitsOneNamingLine()
    {
        using var file = CliRunner.Write("policy.json", "{\n  \"default\": {\n    \"isServiceDefault\": tru\n  }\n}\n");

        var result = await CliRunner.RunAsync("validate", "--policy", file.Path);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("line 3", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_MissingFile_ExitsTwo()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"xtac-missing-{Guid.NewGuid():N}.json");

        var result = await CliRunner.RunAsync("validate", "--policy", missing);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(missing, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("valid", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--polcy")]
    [InlineData("--input")]
    [InlineData("policy")]
    public async Task Validate_UnknownOption_ExitsTwoNamingIt(string option)
    {
        var result = await CliRunner.RunAsync("validate", option, SamplePaths.Policy);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"'{option}'", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Fact]
    public async Task Validate_NoPolicyOption_ExitsTwo()
    {
        var result = await CliRunner.RunAsync("validate");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--policy", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ResourceTenantNotGuid_ExitsTwo()
    {
        var result = await CliRunner.RunAsync("validate", "--policy", SamplePaths.Policy, "--resource-tenant", "contoso");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("contoso", result.Stderr, StringComparison.Ordinal);
    }
}

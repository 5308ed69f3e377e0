using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

public sealed class SettingsValidationTests
{
    [Theory]
    [InlineData("Xtac:Policy:FileCheckInterval", "00:00:00.001", "'GatewayOptions.Policy' members: 'FileCheckInterval'")]
    [InlineData("Xtac:Policy:MaxAge", "-00:00:01", "'GatewayOptions.Policy' members: 'MaxAge'")]
    [InlineData("Xtac:Policy:MaxAge", "00:00:00.150", "at least twice the File source's check interval (00:00:00.1000000)")]
    [InlineData("Xtac:Policy:Redis:CheckInterval", "00:00:00", "'PolicySourceOptions.Redis' members: 'CheckInterval'")]
    [InlineData("Xtac:Policy:Redis:AuditMaxEntries", "5", "'PolicySourceOptions.Redis' members: 'AuditMaxEntries'")]
    [InlineData("Xtac:Policy:Redis:StartupWait", "-00:00:01", "'PolicySourceOptions.Redis' members: 'StartupWait'")]
    [InlineData("Xtac:Policy:Graph:RefreshInterval", "00:00:00", "'PolicySourceOptions.Graph' members: 'RefreshInterval'")]
    [InlineData("Xtac:Policy:Graph:MaxRetryAfter", "-00:00:01", "'PolicySourceOptions.Graph' members: 'MaxRetryAfter'")]
    [InlineData("Xtac:Policy:RetryMinDelay", "00:05:00", "Xtac:Policy:RetryMinDelay (00:05:00) is longer than Xtac:Policy:RetryMaxDelay (00:00:30)")]
    [InlineData("Xtac:Telemetry:UserIdHashKey", "too-short-a-key", "UserIdHashKey must be at least 32 characters")]
    [InlineData("Xtac:SigningKeys:RefreshInterval", "00:00:00", "RefreshInterval")]
    [InlineData("Xtac:SigningKeys:MinimumRefreshInterval", "-00:00:01", "MinimumRefreshInterval")]
    // Zero would let every token naming an unknown key fetch the issuer's keys again.
    [InlineData("Xtac:SigningKeys:MinimumRefreshInterval", "00:00:00", "MinimumRefreshInterval")]
    // A day of leeway would accept tokens a day after they expired.
    [InlineData("Xtac:Authentication:ClockSkew", "1.00:00:00", "'GatewayOptions.Authentication' members: 'ClockSkew'")]
    [InlineData("Xtac:Authentication:ClockSkew", "-00:05:00", "'GatewayOptions.Authentication' members: 'ClockSkew'")]
    [InlineData("Xtac:Claims:TenantId", "", "'Xtac:Claims:TenantId' is empty")]
    [InlineData("Xtac:Claims:HybridJoinedTrustType", " ", "'Xtac:Claims:HybridJoinedTrustType' is empty")]
    [InlineData("Xtac:ResourceTenantId", "", "'Xtac:ResourceTenantId' is not set")]
    [InlineData("Xtac:ResourceTenantId", "00000000-0000-0000-0000-000000000000", "'Xtac:ResourceTenantId' is the empty GUID")]
    // Microsoft.Identity.Web would fail every request with a 500 instead.
    [InlineData("AzureAd:ClientId", "", "'AzureAd:ClientId' is empty")]
    [InlineData("AzureAd:ClientId", null, "'AzureAd:ClientId' is empty")]
    [InlineData("Xtac:TokenCache:MaxEntries", "0", "MaxEntries")]
    [InlineData("Xtac:TokenCache:MaxBytes", "-1", "MaxBytes")]
    [InlineData("Xtac:TokenCache:MaxLifetime", "00:00:00", "MaxLifetime")]
    public async Task Start_SettingOutOfRange_ThrowsNamingIt(string key, string? value, string named)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(), s => s[key] = value));

        Assert.Contains(named, ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Production", false)]
    [InlineData("Staging", false)]
    [InlineData("Development", true)]
    public async Task Start_SampleClientIdFromAppsettings_RefusedOutsideDevelopment(string environment, bool starts)
    {
        var sample = (string?)System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(RepositoryPaths.Combine("appsettings.json")))!["AzureAd"]!["ClientId"];
        Task<GatewayHarness> start() => GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["AzureAd:ClientId"] = sample, environment);

        if (starts)
        {
            await using var gateway = await start();
            Assert.NotNull(gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current);
        }
        else
        {
            var exception = await Assert.ThrowsAnyAsync<Exception>(start);
            Assert.Contains($"'AzureAd:ClientId' is the sample app registration of the repository's appsettings.json ({sample})",
                ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Start_MaxAgeTwiceTheCheckInterval_Starts()
    {
        // The bound itself is accepted: the harness checks the file every 100 ms.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:MaxAge"] = "00:00:00.200");

        // Started with its policy; readiness is not asked, as a late check on a loaded machine may age it out.
        Assert.NotNull(gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current);
    }
}

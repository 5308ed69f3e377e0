using XtacGateway.Cli;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

public sealed class HealthCheckCommandTests
{
    [Theory]
    [InlineData("localhost:8080/healthz")]
    [InlineData("/healthz")]
    [InlineData("--help")]
    [InlineData("http://[bad")]
    [InlineData("ftp://127.0.0.1/healthz")]
    public async Task RunAsync_NotAnAbsoluteHttpUrl_UsageErrorNamingIt(string url)
    {
        var result = await CliRunner.RunAsync("healthcheck", url);

        Assert.Equal(CommandLine.UsageError, result.ExitCode);
        Assert.Contains($"'{url}' is not an absolute http or https URL", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_GatewayAlive_Succeeds()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var result = await CliRunner.RunAsync("healthcheck", new Uri(gateway.Client.BaseAddress!, "/healthz").ToString());

        Assert.Equal(CommandLine.Success, result.ExitCode);
    }

    [Fact]
    public async Task RunAsync_NothingListening_FailsNamingTheUrl()
    {
        var url = $"http://127.0.0.1:{LoopbackPort.Free()}/healthz";
        var result = await CliRunner.RunAsync("healthcheck", url);

        Assert.Equal(CommandLine.Invalid, result.ExitCode);
        Assert.Contains(url, result.Stderr, StringComparison.Ordinal);
    }
}

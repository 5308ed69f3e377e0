using System.Diagnostics;
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
        // Warm: the command's own 2 s limit is for a running gateway, not for this one's first request.
        (await gateway.Client.GetAsync("/healthz")).Dispose();

        var result = await CliRunner.RunAsync("healthcheck", new Uri(gateway.Client.BaseAddress!, "/healthz").ToString());

        Assert.Equal(CommandLine.Success, result.ExitCode);
    }

    [Fact]
    public async Task RunAsync_ProxyInTheEnvironment_AsksTheGatewayDirectly()
    {
        // The image's HEALTHCHECK runs where HTTP_PROXY may be set for the gateway's own calls to Entra and Graph; .NET
        // would send even 127.0.0.1 through it. A process of its own: the default proxy is read once per process.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        // Warm: the command's own 2 s limit is for a running gateway, not for this one's first request.
        (await gateway.Client.GetAsync("/healthz")).Dispose();
        var proxy = $"http://127.0.0.1:{LoopbackPort.Free()}";
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "XtacGateway.dll"), "healthcheck", new Uri(gateway.Client.BaseAddress!, "/healthz").ToString() },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in new[] { "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy" })
        {
            start.Environment[name] = proxy;
        }

        start.Environment.Remove("NO_PROXY");
        start.Environment.Remove("no_proxy");

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(deadline.Token);

        Assert.True(process.ExitCode == CommandLine.Success, $"exit {process.ExitCode}: {await stderr}");
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

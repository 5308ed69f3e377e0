using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

public sealed class ExitCodeTests
{
    [Fact]
    public async Task ExitCode_BackgroundServiceFailed_IsOne()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(),
            configureBuilder: b => b.Services.AddHostedService<FailingService>());

        await gateway.App.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, GatewayApplication.ExitCode(gateway.App));
    }

    [Fact]
    public async Task ExitCode_StoppedOnRequest_IsZero()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        await gateway.App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, GatewayApplication.ExitCode(gateway.App));
    }

    /// <summary>A loop that dies once the gateway is serving, as a policy source's might.</summary>
    private sealed class FailingService(IHostApplicationLifetime lifetime) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var started = new TaskCompletionSource();
            using var registration = lifetime.ApplicationStarted.Register(started.SetResult);
            await started.Task.WaitAsync(stoppingToken);
            throw new InvalidOperationException("A loop that died.");
        }
    }
}

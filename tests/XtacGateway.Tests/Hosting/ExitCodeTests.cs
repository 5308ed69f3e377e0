using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

/// <summary>The exit code Program.cs returns, through the same run (which disposes the host when it returns).</summary>
public sealed class ExitCodeTests
{
    [Fact]
    public async Task RunAsync_BackgroundServiceFailed_ReturnsOne()
        => Assert.Equal(1, await RunUntilStoppedAsync(b => b.Services.AddHostedService<FailingService>()));

    [Fact]
    public async Task RunAsync_StoppedOnRequest_ReturnsZero()
        => Assert.Equal(0, await RunUntilStoppedAsync(b => b.Services.AddHostedService<StoppingService>()));

    private static async Task<int> RunUntilStoppedAsync(Action<WebApplicationBuilder> addService)
    {
        var directory = Directory.CreateTempSubdirectory("xtac-exit-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "policy.json"), TestPolicies.Standard());
            var settings = GatewayHarness.Settings(directory, "http://127.0.0.1:9/");
            var app = GatewayApplication.Create(["--urls", "http://127.0.0.1:0", "--environment", "Development"], directory, b =>
            {
                b.Configuration.AddInMemoryCollection(settings.Where(s => s.Value is not null));
                b.Logging.ClearProviders();
                addService(b);
            });

            return await GatewayApplication.RunAsync(app).WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A loop that dies once the gateway is serving, as a policy source's might.</summary>
    private sealed class FailingService(IHostApplicationLifetime lifetime) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await WhenStartedAsync(lifetime, stoppingToken);
            throw new InvalidOperationException("A loop that died.");
        }
    }

    /// <summary>A stop asked for once the gateway is serving, as SIGTERM asks.</summary>
    private sealed class StoppingService(IHostApplicationLifetime lifetime) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await WhenStartedAsync(lifetime, stoppingToken);
            lifetime.StopApplication();
        }
    }

    private static async Task WhenStartedAsync(IHostApplicationLifetime lifetime, CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var registration = lifetime.ApplicationStarted.Register(started.SetResult);
        await started.Task.WaitAsync(stoppingToken);
    }
}

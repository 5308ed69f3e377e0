using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace XtacGateway.Hosting;

/// <summary>
/// On a stop (SIGTERM), readiness fails first and the listeners stay open for <see cref="ShutdownOptions.DrainDelay"/>,
/// so a load balancer that polls <c>/readyz</c> stops sending new requests before the gateway stops taking them. Kestrel
/// then finishes the requests in flight within the host's shutdown timeout.
/// </summary>
internal sealed partial class ShutdownDrain(IOptions<GatewayOptions> options, IOptions<HostOptions> host, ILogger<ShutdownDrain> logger)
    : IHostedLifecycleService, IHealthCheck
{
    private volatile bool _stopping;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        => Task.FromResult(_stopping ? HealthCheckResult.Unhealthy("The gateway is stopping.") : HealthCheckResult.Healthy());

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Before any hosted service stops, so Kestrel still listens while the delay runs.
        _stopping = true;
        var delay = options.Value.Shutdown.DrainDelay;
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        Log.Draining(logger, delay.TotalMilliseconds);
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out first: it stops the rest now, with what time is left.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // The delay and the requests in flight share the host's shutdown timeout: a delay that takes all of it would
        // have Kestrel abort those requests, the opposite of a drain.
        var delay = options.Value.Shutdown.DrainDelay;
        var timeout = host.Value.ShutdownTimeout;
        return delay > TimeSpan.Zero && delay >= timeout
            ? throw new InvalidOperationException(
                $"'{GatewayOptions.Section}:Shutdown:DrainDelay' ({delay}) is not shorter than the host's shutdown timeout ({timeout}), which must also " +
                "cover the requests in flight: shorten the delay or raise the timeout (DOTNET_SHUTDOWNTIMEOUTSECONDS, --shutdownTimeoutSeconds).")
            : Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(5001, LogLevel.Information, "Stopping: /readyz now answers 503; the listeners stay open {DelayMs} ms for load balancers to notice before they close.")]
        public static partial void Draining(ILogger logger, double delayMs);
    }
}

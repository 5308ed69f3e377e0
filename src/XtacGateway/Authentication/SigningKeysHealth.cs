using System.Globalization;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace XtacGateway.Authentication;

/// <summary>
/// The token path's state in <c>/health</c> (not readiness: every instance shares the issuer, and taking them all out of
/// rotation would answer no better than their 503s): the keys read, when, and a refresh that failed since.
/// </summary>
internal sealed class SigningKeysHealthCheck(SigningKeyManager keys) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (keys.Status is not { } status)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Not read yet: the read after start-up, or the first token, reads them."));
        }

        var data = new Dictionary<string, object> { ["metadata"] = status.Address, ["keys"] = status.KeyCount };
        if (status.LoadedAt is { } loaded)
        {
            data["loadedAt"] = loaded.ToString("O", CultureInfo.InvariantCulture);
        }

        if (status.LastFailure is not { } failure)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"{status.KeyCount} signing key(s) read.", data));
        }

        data["lastFailure"] = failure;
        data["lastFailureAt"] = status.LastFailureAt!.Value.ToString("O", CultureInfo.InvariantCulture);
        return Task.FromResult(status.LoadedAt is null
            ? HealthCheckResult.Unhealthy($"No signing keys could be read, so every token is answered 503: {failure}", data: data)
            : HealthCheckResult.Degraded($"The last good signing keys are kept; the latest refresh failed: {failure}", data: data));
    }
}

/// <summary>
/// Reads the signing keys once the listeners are up, so the first callers do not wait for the issuer and a wrong or
/// unreachable issuer shows in <c>/health</c> and the log before traffic does. After start: the development issuer
/// serves its keys from this very process. Until the first read succeeds it tries again when the key manager's own
/// back-off says the next refresh is due, so an idle instance whose issuer came back does not stay unhealthy.
/// </summary>
internal sealed class SigningKeyWarmUp(IHostApplicationLifetime lifetime, IOptionsMonitor<JwtBearerOptions> jwt, SigningKeyManager keys, TimeProvider time)
    : IHostedService, IDisposable
{
    // Its own token, cancelled on stop and on disposal: a host disposed without being stopped (as tests may) never
    // signals ApplicationStopping, and the tries would otherwise keep the disposed gateway alive.
    private readonly CancellationTokenSource _stopping = new();
    private CancellationTokenRegistration _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = lifetime.ApplicationStarted.Register(() => _ = ReadAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _started.DisposeAsync();
        await _stopping.CancelAsync();
    }

    public void Dispose()
    {
        _started.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task ReadAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Building JwtBearer's options points the key manager at the issuer's metadata.
                _ = jwt.Get(JwtBearerDefaults.AuthenticationScheme);
                await keys.GetConfigurationAsync(stopping);
                return;
            }
            catch (Exception)
            {
                // Logged by the key manager (event 4002) and shown by the health check; requests retry as before.
            }

            try
            {
                await Task.Delay(keys.NextRefreshIn, time, stopping);
            }
            catch (Exception)
            {
                // Stopped or disposed meanwhile.
                return;
            }
        }
    }
}

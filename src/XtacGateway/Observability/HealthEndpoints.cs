using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using XtacGateway.Hosting;
using XtacGateway.Policies;

namespace XtacGateway.Observability;

/// <summary>
/// <c>/healthz</c> (alive), <c>/readyz</c> (a fresh policy is loaded and the gateway is not stopping) and <c>/health</c>
/// (every check, as JSON).
/// </summary>
internal static class HealthEndpoints
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static void AddXtacHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("alive"), tags: [LiveTag])
            .AddCheck<PolicySnapshotHealthCheck>("policy", tags: [ReadyTag])
            .AddCheck<ShutdownDrain>("shutdown", tags: [ReadyTag])
            .AddCheck<PolicySourceHealthCheck>("policySource")
            .AddCheck<XtacGateway.Authentication.SigningKeysHealthCheck>("signingKeys");
    }

    public static void MapXtacHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(LiveTag), ResponseWriter = WriteAsync })
            .AsSharedProbe().AllowAnonymous();
        endpoints.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .AsSharedProbe().AllowAnonymous();
        endpoints.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteAsync })
            .AsManagementRead().AllowAnonymous();
    }

    private static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var store = context.RequestServices.GetRequiredService<PolicySnapshotStore>();
        await using var writer = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteString("status", report.Status.ToString());
        var snapshot = store.Current;
        if (snapshot is null)
        {
            writer.WriteNull("policyVersion");
        }
        else
        {
            writer.WriteNumber("policyVersion", snapshot.Version);
        }

        // The proxy listener faces callers: its probes learn whether the instance is up and which version it enforces
        // (so a load balancer can see drift), not the policy's size, ETag or its store's state.
        if (!context.RequestServices.GetRequiredService<ListenerEndpoints>().IsManagementRequest(context))
        {
            writer.WriteEndObject();
            return;
        }

        if (snapshot is not null)
        {
            writer.WriteString("policyETag", snapshot.ETag);
            writer.WriteNumber("policyPartners", snapshot.PartnerCount);
        }

        writer.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            writer.WriteStartObject(name);
            writer.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description)
            {
                writer.WriteString("description", description);
            }

            foreach (var (key, value) in entry.Data)
            {
                writer.WriteString(key, value?.ToString());
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

/// <summary>Ready when a snapshot is loaded and its source confirmed it recently (<c>Xtac:Policy:MaxAge</c>).</summary>
internal sealed class PolicySnapshotHealthCheck(PolicySnapshotStore store, IOptions<GatewayOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (store.Current is not { } snapshot)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("No policy snapshot is loaded: cross-tenant requests are denied."));
        }

        var age = store.ConfirmedAgo;
        var maxAge = options.Value.Policy.MaxAge;
        var data = new Dictionary<string, object>
        {
            ["version"] = snapshot.Version,
            ["confirmedSecondsAgo"] = Math.Round(age.TotalSeconds, 1),
            ["source"] = store.SourceState,
        };

        if (age > maxAge)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"The policy in force was last confirmed by its source {age.TotalSeconds:F0} s ago (bound: {maxAge.TotalSeconds:F0} s).", data: data));
        }

        return Task.FromResult(store.SourceState == PolicySourceState.Healthy
            ? HealthCheckResult.Healthy($"Policy version {snapshot.Version} in force.", data)
            : HealthCheckResult.Degraded($"Policy version {snapshot.Version} in force; its source is {store.SourceState}.", data: data));
    }
}

/// <summary>
/// The policy store's state, shown by <c>/health</c> only (not readiness: the last good policy stays in force while the
/// source is degraded): which source, healthy or degraded since when, and the last failure while degraded.
/// </summary>
internal sealed class PolicySourceHealthCheck(PolicySnapshotStore store, IOptions<PolicySourceOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = store.Source;
        var kind = options.Value.Source;
        var data = new Dictionary<string, object>
        {
            ["kind"] = kind,
            ["state"] = status.State,
            ["since"] = status.Since.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (status.Reason is { } reason)
        {
            data["lastFailure"] = reason;
        }

        return Task.FromResult(status.State == PolicySourceState.Healthy
            ? HealthCheckResult.Healthy($"The {kind} source is healthy.", data)
            : HealthCheckResult.Degraded($"The {kind} source is degraded: {status.Reason ?? "no detail"}", data: data));
    }
}

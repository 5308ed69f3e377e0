using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using XtacGateway.Observability;
using XtacGateway.Policies;

namespace XtacGateway.Benchmarks;

internal static class GatewayServices
{
    /// <summary>The gateway's telemetry and what it stands on (logging, metrics, the clock, the snapshot store, a Production host).</summary>
    public static ServiceCollection WithTelemetry()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IHostEnvironment>(new HostingEnvironment { EnvironmentName = Environments.Production, ApplicationName = "XtacGateway" });
        services.AddSingleton<PolicySnapshotStore>();
        services.AddSingleton<GatewayTelemetry>();
        return services;
    }
}

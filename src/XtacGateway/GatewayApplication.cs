using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using XtacGateway.Admin;
using XtacGateway.Authentication;
using XtacGateway.Development;
using XtacGateway.Enforcement;
using XtacGateway.Hosting;
using XtacGateway.Observability;
using XtacGateway.Policies;
using Yarp.ReverseProxy.Configuration;

namespace XtacGateway;

/// <summary>Builds the gateway: the one place Program.cs and the tests share.</summary>
internal static class GatewayApplication
{
    /// <summary>Creates the gateway from command-line arguments (<c>--urls</c>, <c>--Section:Key=value</c>) and an optional extra configuration step.</summary>
    public static WebApplication Create(string[] args, string? contentRoot = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // The repository root (dotnet run) or the publish folder holds appsettings.json.
            ContentRootPath = contentRoot ?? ResolveContentRoot(),
        });

        configure?.Invoke(builder);
        builder.AddXtacGateway();
        var app = builder.Build();
        app.MapXtacGateway();
        return app;
    }

    public static WebApplicationBuilder AddXtacGateway(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.ConfigureListeners();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Room for a hostile 64 KB token to reach JwtBearer and be refused as 401 rather than 431.
            kestrel.Limits.MaxRequestHeadersTotalSize = 128 * 1024;
        });

        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PolicySnapshotStore>();
        services.TryAddSingleton<GatewayTelemetry>();
        services.TryAddSingleton<CallerContextProvider>();
        services.TryAddSingleton<LoggedUserIds>();
        builder.AddXtacPolicySources();
        builder.AddXtacAdminApi();

        builder.AddXtacAuthentication();
        builder.AddXtacTelemetry();
        services.AddSingleton<ShutdownDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());
        services.AddXtacHealthChecks();
        services.AddAuthorization();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GatewayAuthorizationResults>();
        services.AddProblemDetails();

        // A route's Timeout needs the request timeouts middleware; without it YARP fails each of the route's requests.
        // RouteTimeoutMiddleware makes its expiry a 504.
        services.AddRequestTimeouts();

        services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddConfigFilter<RouteRuleConfigFilter>();
        services.AddSingleton<IConfigChangeListener, DecisionSeriesOfAppliedRoutes>();

        builder.AddSampleApp();
        return builder;
    }

    public static WebApplication MapXtacGateway(this WebApplication app)
    {
        app.UseXtacAmbiguousPathCheck();
        app.UseRouting();
        app.UseXtacAuthentication();
        app.UseXtacEndpointGate();
        app.UseRequestTimeouts();
        app.MapXtacHealth();
        app.MapAdminApi();
        app.MapXtacMetrics();
        app.MapDevelopmentIssuer();
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<RouteTimeoutMiddleware>();
            proxy.UseMiddleware<EnforcementMiddleware>();
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        return app;
    }

    /// <summary>
    /// Runs the gateway until it stops; returns the process's exit code: 1 when a background service (a policy source's
    /// loop) failed and so stopped it, else 0. On .NET 10 the host stops for such a failure and <c>RunAsync</c> returns
    /// as for a requested stop, so without this a restart policy of "on failure" would leave the gateway down.
    /// </summary>
    public static async Task<int> RunAsync(WebApplication app)
    {
        // Found before the run: RunAsync disposes the host, and its services with it, when it returns.
        var loops = app.Services.GetServices<IHostedService>().OfType<BackgroundService>().ToArray();
        await app.RunAsync();
        return loops.Any(s => s.ExecuteTask is { IsFaulted: true }) ? 1 : 0;
    }

    private static string ResolveContentRoot()
    {
        var current = Directory.GetCurrentDirectory();
        return File.Exists(Path.Combine(current, "appsettings.json")) ? current : AppContext.BaseDirectory;
    }
}

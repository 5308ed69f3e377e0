using System.Diagnostics;
using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using XtacGateway.Enforcement;
using XtacGateway.LoadTests;
using XtacGateway.Observability;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace XtacGateway.Benchmarks;

/// <summary>
/// The gateway's enforcement step (<see cref="EnforcementMiddleware"/>, as YARP calls it) with telemetry on and off
/// (issue 5: within 10%). On: the gateway's own OpenTelemetry metrics pipeline (its meter, a Prometheus exporter
/// aggregating every measurement) and a recorded request activity that receives the decision tags. Off: nothing
/// listens, so the middleware skips the clock and the instruments. Both run on a 100,000-partner snapshot and a
/// caller identity the verified-token cache would hand back (facts already read); log providers are absent in both.
/// </summary>
[MemoryDiagnoser]
public class EnforcementBenchmarks
{
    private ServiceProvider _services = null!;
    private EnforcementMiddleware _middleware = null!;
    private DefaultHttpContext _context = null!;
    private Activity? _activity;

    [Params("allowed", "mfa-required")]
    public string Caller { get; set; } = "allowed";

    [GlobalSetup(Target = nameof(TelemetryOff))]
    public void SetupOff() => Setup(metrics: false, tracing: false);

    [GlobalSetup(Target = nameof(TelemetryOn))]
    public void SetupOn() => Setup(metrics: true, tracing: true);

    [GlobalSetup(Target = nameof(MetricsOnly))]
    public void SetupMetrics() => Setup(metrics: true, tracing: false);

    [GlobalSetup(Target = nameof(TracingOnly))]
    public void SetupTracing() => Setup(metrics: false, tracing: true);

    [Benchmark(Baseline = true, Description = "enforcement, telemetry off")]
    public Task TelemetryOff() => _middleware.Invoke(_context);

    [Benchmark(Description = "enforcement, telemetry on")]
    public Task TelemetryOn() => _middleware.Invoke(_context);

    /// <summary>Attribution: decision metrics only (no request activity).</summary>
    [Benchmark(Description = "enforcement, metrics only")]
    public Task MetricsOnly() => _middleware.Invoke(_context);

    /// <summary>Attribution: the decision tags on a recorded request activity only (no metrics listener).</summary>
    [Benchmark(Description = "enforcement, tracing only")]
    public Task TracingOnly() => _middleware.Invoke(_context);

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_activity is not null && _activity.GetTagItem("xtac.decision") is null)
        {
            Console.WriteLine("// WARNING: the request activity never received the decision tags; the telemetry-on figure misses the tracing part.");
        }

        _activity?.Dispose();
        Activity.Current = null;
        _services.Dispose();
    }

    private void Setup(bool metrics, bool tracing)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PolicySnapshotStore>();
        services.AddSingleton<GatewayTelemetry>();
        services.AddSingleton<CallerContextProvider>();
        services.Configure<GatewayOptions>(o => o.ResourceTenantId = LoadTestPolicy.ResourceTenant);
        services.AddOptions<TelemetryOptions>();
        // As TelemetryExtensions.AddXtacTelemetry registers it, minus the ASP.NET Core and runtime sources.
        var otel = metrics || tracing ? services.AddOpenTelemetry() : null;
        if (metrics)
        {
            otel!.WithMetrics(m => m.AddMeter(GatewayTelemetry.Name).AddPrometheusExporter());
        }

        if (tracing)
        {
            otel!.WithTracing(t => t.AddSource(GatewayTelemetry.Name, RequestSource.Name));
        }

        _services = services.BuildServiceProvider();
        if (metrics)
        {
            _ = _services.GetRequiredService<MeterProvider>();
        }

        if (tracing)
        {
            _ = _services.GetRequiredService<TracerProvider>();
        }

        var store = _services.GetRequiredService<PolicySnapshotStore>();
        store.Swap(PolicyCompiler.Compile(LoadTestPolicy.Build(100_000), LoadTestPolicy.ResourceTenant, new PolicyVersion(store.NextVersion(), "\"bench\"", DateTimeOffset.UtcNow)));
        var gatewayTelemetry = _services.GetRequiredService<GatewayTelemetry>();
        if (gatewayTelemetry.DecisionDurationEnabled != metrics)
        {
            throw new InvalidOperationException($"Decision metrics enabled: {gatewayTelemetry.DecisionDurationEnabled}, expected {metrics}.");
        }

        _middleware = ActivatorUtilities.CreateInstance<EnforcementMiddleware>(_services, (RequestDelegate)Forward);

        var secure = Caller == "mfa-required";
        var route = new RouteConfig
        {
            RouteId = secure ? "sample-app-secure" : "sample-app",
            ClusterId = "sample-app",
            Match = new RouteMatch { Path = secure ? "/secure/{**catch-all}" : "/{**catch-all}" },
            Metadata = secure
                ? new Dictionary<string, string> { [RouteRule.AppIdKey] = LoadTestPolicy.MfaApp.ToString(), [RouteRule.GrantControlsKey] = "mfa", [RouteRule.GrantOperatorKey] = "OR" }
                : new Dictionary<string, string> { [RouteRule.AppIdKey] = LoadTestPolicy.OpenApp.ToString() },
        };

        var identity = new ClaimsIdentity(
        [
            new Claim("iss", $"https://xtac-dev-issuer.localhost/{LoadTestPolicy.AllowedPartner}/v2.0"),
            new Claim("tid", LoadTestPolicy.AllowedPartner.ToString()),
            new Claim("oid", "0000abcd-0000-4000-8000-0000000000ab"),
            new Claim("scp", "access_as_user"),
            new Claim("amr", "pwd"),
        ], authenticationType: "Bearer");

        _context = new DefaultHttpContext { RequestServices = _services, User = new ClaimsPrincipal(identity) };
        _context.Request.Method = "GET";
        _context.Request.Path = secure ? "/secure/items/9" : "/items/1";
        _context.Request.Headers.Authorization = "Bearer eyJ.not-read-here.x";
        _context.Features.Set<IReverseProxyFeature>(new ProxyFeature(new RouteModel(route, cluster: null, HttpTransformer.Default)));

        if (tracing)
        {
            _activity = RequestSource.Source.StartActivity("HTTP GET", ActivityKind.Server);
            if (_activity is not { IsAllDataRequested: true })
            {
                throw new InvalidOperationException("The request activity is not recorded although tracing is on.");
            }

            Activity.Current = _activity;
        }
        else
        {
            Activity.Current = null;
        }

        // One call outside the measurement: the caller's facts are read once per identity, as with the token cache.
        _middleware.Invoke(_context).GetAwaiter().GetResult();
        var expected = secure ? StatusCodes.Status403Forbidden : StatusCodes.Status200OK;
        if (_context.Response.StatusCode != expected)
        {
            throw new InvalidOperationException($"Expected {expected}, the middleware answered {_context.Response.StatusCode}.");
        }
    }

    /// <summary>Stands in for YARP's forwarder: drops the identity headers the step added so the next request starts clean.</summary>
    private static Task Forward(HttpContext context)
    {
        var headers = context.Request.Headers;
        headers.Remove(EnforcementMiddleware.HomeTenantHeader);
        headers.Remove(EnforcementMiddleware.UserObjectIdHeader);
        headers.Remove(EnforcementMiddleware.DecisionHeader);
        return Task.CompletedTask;
    }

    private static class RequestSource
    {
        public const string Name = "XtacGateway.Benchmarks.Requests";
        public static readonly ActivitySource Source = new(Name);
    }

    private sealed class ProxyFeature(RouteModel route) : IReverseProxyFeature
    {
        public RouteModel Route { get; } = route;
        public ClusterModel Cluster { get; set; } = null!;
        public IReadOnlyList<DestinationState> AllDestinations { get; } = [];
        public IReadOnlyList<DestinationState> AvailableDestinations { get; set; } = [];
        public DestinationState? ProxiedDestination { get; set; }
    }
}

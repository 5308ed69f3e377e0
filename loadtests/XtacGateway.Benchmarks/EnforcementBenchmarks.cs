using System.Diagnostics;
using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
/// (issue 5: within 10%). Metrics on: the gateway's own OpenTelemetry metrics pipeline (its meter, a Prometheus
/// exporter aggregating every measurement), with the decision duration sampled as configured. Tracing on: the request
/// span is recorded, so it receives the decision tags. Off: nothing listens, and the request activity is the
/// unrecorded one ASP.NET Core creates for log correlation. All run on a 100,000-partner snapshot and a caller
/// identity the verified-token cache would hand back (facts already read); log providers are absent in all.
/// </summary>
/// <remarks>
/// Every request gets a fresh request activity, as in a server: a reused one would collect tags without end. The
/// activities are made before each iteration, outside the measurement, so one invocation runs a batch of requests.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(1, 1)]
[WarmupCount(50)]
[IterationCount(60)]
[MinColumn]
[Q1Column]
public class EnforcementBenchmarks
{
    internal const int BatchSize = Batch;
    private const int Batch = 8192;
    private const string RequestActivityName = "Microsoft.AspNetCore.Hosting.HttpRequestIn";

    private ServiceProvider _services = null!;
    private EnforcementMiddleware _middleware = null!;
    private DefaultHttpContext _context = null!;
    private readonly ActivityFeature _activityFeature = new();
    private readonly Activity[] _activities = new Activity[Batch];
    private MetricsTagsFeature? _metricsTags;
    private bool _tracing;
    private bool _everySpanRecorded;

    // Compiled once per process: the paired run sets the variants up again and again.
    private static readonly Lazy<PolicySnapshot> s_snapshot = new(() =>
        PolicyCompiler.Compile(LoadTestPolicy.Build(100_000), LoadTestPolicy.ResourceTenant, new PolicyVersion(1, "\"bench\"", DateTimeOffset.UtcNow)));

    [Params("allowed", "mfa-required")]
    public string Caller { get; set; } = "allowed";

    /// <summary>The variants, for <see cref="PairedEnforcementRun"/>: name and set-up, the baseline first.</summary>
    internal static readonly (string Name, Action<EnforcementBenchmarks> Setup)[] Variants =
    [
        ("telemetry off", b => b.SetupOff()),
        ("metrics on (default)", b => b.SetupMetrics()),
        ("metrics on, every decision timed", b => b.SetupMetricsEveryDecision()),
        ("metrics on, every span recorded", b => b.SetupMetricsAndTracing()),
        ("metrics on, 1 span in 10 recorded", b => b.SetupMetricsAndSampledTracing()),
        ("tracing only, every span recorded", b => b.SetupTracing()),
    ];

    [GlobalSetup(Target = nameof(TelemetryOff))]
    public void SetupOff() => Setup(metrics: false, tracing: false);

    [GlobalSetup(Target = nameof(MetricsOn))]
    public void SetupMetrics() => Setup(metrics: true, tracing: false);

    [GlobalSetup(Target = nameof(MetricsEveryDecisionTimed))]
    public void SetupMetricsEveryDecision() => Setup(metrics: true, tracing: false, durationSampleInterval: 1);

    [GlobalSetup(Target = nameof(MetricsAndTracing))]
    public void SetupMetricsAndTracing() => Setup(metrics: true, tracing: true);

    [GlobalSetup(Target = nameof(MetricsAndSampledTracing))]
    public void SetupMetricsAndSampledTracing() => Setup(metrics: true, tracing: true, spanRatio: 0.1);

    [GlobalSetup(Target = nameof(TracingOnly))]
    public void SetupTracing() => Setup(metrics: false, tracing: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "telemetry off")]
    public void TelemetryOff() => RunBatch();

    /// <summary>The gateway's default: metrics always on (Prometheus), spans only when an exporter is configured.</summary>
    [Benchmark(OperationsPerInvoke = Batch, Description = "metrics on (default)")]
    public void MetricsOn() => RunBatch();

    [Benchmark(OperationsPerInvoke = Batch, Description = "metrics on, every decision timed")]
    public void MetricsEveryDecisionTimed() => RunBatch();

    [Benchmark(OperationsPerInvoke = Batch, Description = "metrics on, every span recorded")]
    public void MetricsAndTracing() => RunBatch();

    /// <summary>Head sampling as production tracing usually runs: a trace-ID ratio sampler keeping one trace in ten.</summary>
    [Benchmark(OperationsPerInvoke = Batch, Description = "metrics on, 1 span in 10 recorded")]
    public void MetricsAndSampledTracing() => RunBatch();

    /// <summary>Attribution: the decision tags on a recorded request span only (no metrics listener).</summary>
    [Benchmark(OperationsPerInvoke = Batch, Description = "tracing only, every span recorded")]
    public void TracingOnly() => RunBatch();

    [IterationSetup]
    public void CreateRequestActivities()
    {
        for (var i = 0; i < Batch; i++)
        {
            _activities[i] = NewRequestActivity();
        }

        // Start each batch on an empty youngest generation, so no iteration pays for collecting the batch's activities.
        GC.Collect(1, GCCollectionMode.Forced, blocking: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var tagged = _activities[^1]?.GetTagItem("xtac.decision") is not null;
        if (_everySpanRecorded ? !tagged : !_tracing && tagged)
        {
            Console.WriteLine($"// WARNING: the request activity was {(tagged ? "" : "not ")}tagged with tracing {(_tracing ? "on" : "off")}.");
        }

        _services.Dispose();
    }

    internal void RunBatch()
    {
        for (var i = 0; i < Batch; i++)
        {
            _activityFeature.Activity = _activities[i];
            _metricsTags?.Tags.Clear();
            var task = _middleware.Invoke(_context);
            if (!task.IsCompletedSuccessfully)
            {
                task.GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>As ASP.NET Core's hosting layer makes it: through its source when traced, else a bare one for log correlation.</summary>
    private Activity NewRequestActivity()
    {
        var activity = (_tracing ? RequestSource.Source.CreateActivity(RequestActivityName, ActivityKind.Server) : null)
            ?? new Activity(RequestActivityName);
        activity.Start();
        Activity.Current = null;
        return activity;
    }

    private void Setup(bool metrics, bool tracing, int? durationSampleInterval = null, double spanRatio = 1)
    {
        var services = GatewayServices.WithTelemetry();
        services.AddSingleton<CallerContextProvider>();
        services.AddSingleton<LoggedUserIds>();
        services.Configure<GatewayOptions>(o => o.ResourceTenantId = LoadTestPolicy.ResourceTenant);
        // The gateway's own default unless a variant says otherwise.
        services.Configure<TelemetryOptions>(o => o.DurationSampleInterval = durationSampleInterval ?? o.DurationSampleInterval);
        // As TelemetryExtensions.AddXtacTelemetry registers it, minus the ASP.NET Core and runtime sources.
        var otel = metrics || tracing ? services.AddOpenTelemetry() : null;
        if (metrics)
        {
            otel!.WithMetrics(m => m.AddMeter(GatewayTelemetry.Name).AddPrometheusExporter());
        }

        if (tracing)
        {
            otel!.WithTracing(t => t.AddSource(GatewayTelemetry.Name, RequestSource.Name).SetSampler(new TraceIdRatioBasedSampler(spanRatio)));
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
        store.Swap(s_snapshot.Value);
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

        // ASP.NET Core's hosting layer gives each request this feature while http.server.request.duration is listened to;
        // a denial adds its tag to it.
        _metricsTags = metrics ? new MetricsTagsFeature() : null;
        _context.Features.Set<IHttpMetricsTagsFeature>(_metricsTags);

        _tracing = tracing;
        _everySpanRecorded = tracing && spanRatio >= 1;
        _context.Features.Set<IHttpActivityFeature>(_activityFeature);
        _activityFeature.Activity = NewRequestActivity();
        if (_everySpanRecorded != _activityFeature.Activity.Source.HasListeners() && spanRatio >= 1)
        {
            throw new InvalidOperationException($"The request activity is {(tracing ? "not " : "")}recorded with tracing {(tracing ? "on" : "off")}.");
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

    private sealed class MetricsTagsFeature : IHttpMetricsTagsFeature
    {
        public ICollection<KeyValuePair<string, object?>> Tags { get; } = new List<KeyValuePair<string, object?>>();

        public bool MetricsDisabled { get; set; }
    }

    private sealed class ActivityFeature : IHttpActivityFeature
    {
        public Activity Activity { get; set; } = null!;
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

using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using XtacGateway.Hosting;

namespace XtacGateway.Observability;

internal static class TelemetryExtensions
{
    private const string OtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string OtlpTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

    /// <summary>Any of these turns OTLP export on: the endpoint all signals share, or a signal's own.</summary>
    private static readonly string[] OtlpEndpointVariables =
        [OtlpEndpoint, OtlpTracesEndpoint, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"];

    /// <summary>
    /// Up-down counters ASP.NET Core and HttpClient move on every request (HttpClient's open connections twice each
    /// way, idle to active and back). Kestrel's connection counts, which move per connection, stay on.
    /// </summary>
    private static readonly string[] InFlightInstruments = ["http.server.active_requests", "http.client.active_requests", "http.client.open_connections"];

    /// <summary>Request duration buckets, in seconds, from 250 us: a proxied request takes about 2 ms on loopback.</summary>
    private static readonly double[] RequestDurationBoundaries = [0.000_25, 0.000_5, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>
    /// OpenTelemetry for the gateway: its own Meter and ActivitySource, ASP.NET Core, Kestrel, HttpClient (YARP's
    /// upstream calls), the .NET runtime and YARP's activities. Prometheus is always scraped at /metrics on the
    /// management listener; OTLP is on when OTEL_EXPORTER_OTLP_ENDPOINT or a signal's own
    /// OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT is set; the console only when asked.
    /// </summary>
    public static void AddXtacTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.UseBatchingConsoleLogger();
        var console = builder.Configuration.GetValue<bool>($"{TelemetryOptions.Section}:ConsoleExporter");
        bool Set(string variable) => !string.IsNullOrWhiteSpace(builder.Configuration[variable]);
        var otlp = OtlpEndpointVariables.Any(Set);

        // Spans cost on every request; record them only when something exports them (or when asked): the console, or
        // OTLP with an endpoint for traces (an endpoint for metrics or logs alone does not turn tracing on).
        var otlpTraces = Set(OtlpEndpoint) || Set(OtlpTracesEndpoint);
        var tracing = builder.Configuration.GetValue<bool?>($"{TelemetryOptions.Section}:Tracing") ?? (otlpTraces || console);
        var inFlight = builder.Configuration.GetValue<bool>($"{TelemetryOptions.Section}:{nameof(TelemetryOptions.InFlightInstruments)}");
        var tenantDimension = builder.Configuration.GetValue<bool>($"{TelemetryOptions.Section}:{nameof(TelemetryOptions.TenantDimension)}");
        var tenantSeriesLimit = builder.Configuration.GetValue<int?>($"{TelemetryOptions.Section}:{nameof(TelemetryOptions.TenantDimensionSeriesLimit)}")
            ?? new TelemetryOptions().TenantDimensionSeriesLimit;

        var otel = builder.Services.AddOpenTelemetry()
            // The gateway's defaults first, then the standard variables: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
            // (service.name, service.instance.id...) outrank them, and a blank one counts as unset.
            .ConfigureResource(resource => resource.Clear().AddService(GatewayTelemetry.Name).AddTelemetrySdk().AddEnvironmentVariableDetector())
            .WithMetrics(metrics =>
            {
                // ASP.NET Core's request and connection meters by name: AddAspNetCoreInstrumentation would also
                // subscribe routing's per-request match counter and wrap the pipeline in one more middleware, and the
                // authentication meter times every request again; none of them answers an ops question the
                // gateway's own instruments and the request duration do not (each measurement costs on every request).
                metrics.AddMeter(GatewayTelemetry.Name)
                    .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics")
                    .AddHttpClientInstrumentation()
                    // Time spent waiting for a pooled upstream connection, measured on every proxied request: with
                    // YARP's keep-alive pool it is near zero, and the request duration already includes it.
                    .AddView("http.client.request.time_in_queue", MetricStreamConfiguration.Drop)
                    // ASP.NET Core's advice starts at 5 ms, above the gateway's whole median: its p50 and p99 would be
                    // guesses inside the first bucket.
                    .AddView("http.server.request.duration", new ExplicitBucketHistogramConfiguration { Boundaries = RequestDurationBoundaries })
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (tenantDimension)
                {
                    metrics.AddView("xtac.decisions", new MetricStreamConfiguration { CardinalityLimit = tenantSeriesLimit });
                }

                if (!inFlight)
                {
                    foreach (var instrument in InFlightInstruments)
                    {
                        metrics.AddView(instrument, MetricStreamConfiguration.Drop);
                    }
                }

                if (console)
                {
                    metrics.AddConsoleExporter();
                }
            });

        // A hosted service: OpenTelemetry puts its own, which starts the exporters' listeners, before every other one,
        // so these zeros reach the exporters (recorded when GatewayTelemetry is built, they would reach none).
        builder.Services.AddHostedService<ReloadSeriesAtZero>();

        if (tracing)
        {
            otel.WithTracing(traces =>
            {
                traces.AddSource(GatewayTelemetry.Name, "Yarp.ReverseProxy")
                    // Scrapes and probes arrive every few seconds and say nothing; an admin call is rare and is what
                    // an ops team traces (a policy change, and the load a reload starts, which nests under it).
                    .AddAspNetCoreInstrumentation(options => options.Filter = context => !context.IsManagementRequest() || context.Request.Path.StartsWithSegments("/admin"))
                    .AddHttpClientInstrumentation();
                if (console)
                {
                    traces.AddConsoleExporter();
                }
            });
        }

        if (otlp)
        {
            // Reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, protocol, headers, and each signal's own
            // overrides) for all signals; a signal with no endpoint of its own or in common goes to OTLP's default
            // (localhost:4317, or 4318 over HTTP), as the specification has it. Only this cross-signal exporter reads
            // the signal-specific variables.
            otel.UseOtlpExporter();
        }
    }

    public static void MapXtacMetrics(this IEndpointRouteBuilder endpoints)
        => endpoints.MapPrometheusScrapingEndpoint("/metrics").AsManagementRead();

    private sealed class ReloadSeriesAtZero(GatewayTelemetry telemetry) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            telemetry.StartReloadSeriesAtZero();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

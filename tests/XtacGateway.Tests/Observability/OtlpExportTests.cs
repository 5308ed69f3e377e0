using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Observability;

// A gateway that exports traces listens to activities process-wide: it runs with the other span tests, alone.
[Collection(RunsAloneCollection.Name)]
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Export_OtlpEndpointSet_TracesMetricsAndLogsReachTheCollector()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var deniedPath = $"/denied-{Guid.NewGuid():N}";
        var userObjectId = Guid.NewGuid().ToString();
        await using (var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                // The standard variables, as an operator would set them in the environment.
                s["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url;
                s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
                s["OTEL_SERVICE_NAME"] = "xtac-otlp-test";
                // Time this test's one decision, so the duration histogram has a point to export.
                s["Xtac:Telemetry:DurationSampleInterval"] = "1";
            },
            configureBuilder: b => b.Services.Configure<LoggerFilterOptions>(o =>
            {
                o.Rules.Clear();
                o.MinLevel = LogLevel.Information;
            })))
        {
            using var response = await gateway.GetAsync(deniedPath, gateway.Token(TestIds.BlockedPartner, c => c["oid"] = userObjectId));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            await FlushUntilExportedAsync(gateway, collector, deniedPath);
        }

        // Stopping the gateway flushed the metrics' and logs' pending batches.
        var traces = collector.Received("/v1/traces");
        Assert.Contains(traces, t => t.Contains(deniedPath) && t.Contains("xtac.decision") && t.Contains("InboundPolicyBlocked")
            && t.Contains(TestIds.BlockedPartner.ToString()) && t.Contains("xtac.policy.version"));
        Assert.Contains(collector.Received("/v1/metrics"), m => m.Contains("xtac.decisions") && m.Contains("xtac.decision.duration"));
        var logs = collector.Received("/v1/logs");
        Assert.Contains(logs, l => l.Contains("InboundPolicyBlocked") && l.Contains("AADSTS") && l.Contains(TestIds.BlockedPartner.ToString()));
        // User object IDs leave the process only as a keyed hash, whichever exporter carries the log.
        Assert.All(logs, l => Assert.DoesNotContain(userObjectId, l));
        Assert.All(traces, t => Assert.Contains("xtac-otlp-test", t));
        Assert.Equal(["application/x-protobuf"], collector.ContentTypes);
    }

    [Fact]
    public async Task Export_OnlySignalEndpointsSet_EverySignalReachesItsEndpoint()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var deniedPath = $"/denied-{Guid.NewGuid():N}";
        await using (var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                // Each signal to its own address (full URLs, as the specification has them), none in common.
                s["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = $"{collector.Url}/v1/traces";
                s["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = $"{collector.Url}/v1/metrics";
                s["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = $"{collector.Url}/v1/logs";
                s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            },
            configureBuilder: b => b.Services.Configure<LoggerFilterOptions>(o =>
            {
                o.Rules.Clear();
                o.MinLevel = LogLevel.Information;
            })))
        {
            using var response = await gateway.GetAsync(deniedPath, gateway.Token(TestIds.BlockedPartner));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            await FlushUntilExportedAsync(gateway, collector, deniedPath);
        }

        Assert.Contains(collector.Received("/v1/traces"), t => t.Contains(deniedPath) && t.Contains("InboundPolicyBlocked"));
        Assert.Contains(collector.Received("/v1/logs"), l => l.Contains("InboundPolicyBlocked"));
        Assert.Contains(collector.Received("/v1/metrics"), m => m.Contains("xtac.decisions"));
    }

    [Fact]
    public async Task Export_ResourceVariablesSet_TheyNameTheServiceAndABlankNameIsUnset()
    {
        // OTEL_RESOURCE_ATTRIBUTES names the service and its instance, and outranks the gateway's defaults; a deployment
        // template's empty OTEL_SERVICE_NAME is as good as unset, not a start-up failure.
        await using var collector = await OtlpCollector.StartAsync();
        await using (var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                s["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url;
                s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
                s["OTEL_SERVICE_NAME"] = "";
                s["OTEL_RESOURCE_ATTRIBUTES"] = "service.name=xtac-eu-west,service.instance.id=pod-7f3a";
            }))
        {
            using var response = await gateway.GetAsync("/orders", gateway.Token(TestIds.BlockedPartner));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            await FlushUntilExportedAsync(gateway, collector, "/orders");
        }

        var traces = collector.Received("/v1/traces");
        Assert.NotEmpty(traces);
        Assert.All(traces, t => Assert.Contains("xtac-eu-west", t));
        Assert.All(traces, t => Assert.Contains("pod-7f3a", t));
        var metrics = collector.Received("/v1/metrics");
        Assert.NotEmpty(metrics);
        Assert.All(metrics, m => Assert.Contains("xtac-eu-west", m));
    }

    /// <summary>
    /// Flushes the gateway's traces until the request's server span, with its decision, has reached the collector. That
    /// span ends just after its response is sent, so a test that stops the gateway at once races it against the final
    /// flush; on a busy machine it can lose.
    /// </summary>
    private static async Task FlushUntilExportedAsync(GatewayHarness gateway, OtlpCollector collector, string path)
    {
        var traces = gateway.Service<TracerProvider>();
        var exported = await Eventually.TrueAsync(() =>
        {
            traces.ForceFlush(5000);
            return Task.FromResult(collector.Received("/v1/traces").Any(t => t.Contains(path) && t.Contains("xtac.decision")));
        }, TimeSpan.FromSeconds(15));
        Assert.True(exported, $"no exported span for {path} with its decision; traces received: {collector.Received("/v1/traces").Count}");
    }
}

using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenTelemetry.Trace;
using XtacGateway.Policies;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Observability;

/// <summary>Activity listeners are process-wide: these tests run alone, so no other test's tracer sees their requests.</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class RequestSpanTests
{
    [Fact]
    public async Task Invoke_DeniedRequest_SpanCarriesDecisionAndErrorStatus()
    {
        var spans = new ExportedItems<Activity>();
        await using var gateway = await StartTracedAsync(spans);

        // Spans are collected process-wide, so pick out this test's requests by their unique paths.
        var deniedPath = $"/denied-{Guid.NewGuid():N}";
        var allowedPath = $"/allowed-{Guid.NewGuid():N}";
        (await gateway.GetAsync(deniedPath, gateway.Token(TestIds.BlockedPartner))).Dispose();
        (await gateway.GetAsync(allowedPath, gateway.Token())).Dispose();

        Activity? Find(string path)
            => spans.Snapshot().FirstOrDefault(s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("url.path"), path) && s.GetTagItem("xtac.decision") is not null);

        await WaitUntilAsync(() => Find(deniedPath) is not null && Find(allowedPath) is not null);
        var denied = Find(deniedPath)!;
        var allowed = Find(allowedPath)!;
        Assert.Equal("deny", denied.GetTagItem("xtac.decision"));
        Assert.Equal("allow", allowed.GetTagItem("xtac.decision"));

        Assert.Equal(ActivityKind.Server, denied.Kind);
        Assert.Equal("InboundPolicyBlocked", denied.GetTagItem("xtac.reason"));
        Assert.Equal(TestIds.OpenApp.ToString(), denied.GetTagItem("xtac.app"));
        Assert.Equal(TestIds.BlockedPartner.ToString(), denied.GetTagItem("xtac.home_tenant"));
        Assert.Equal(1L, denied.GetTagItem("xtac.policy.version"));
        Assert.Equal(ActivityStatusCode.Error, denied.Status);
        Assert.Equal("InboundPolicyBlocked", denied.StatusDescription);
        Assert.NotEqual(ActivityStatusCode.Error, allowed.Status);
    }

    [Fact]
    public async Task Invoke_TracingOff_RequestActivityGetsNoDecisionTags()
    {
        var seen = new List<Activity?>();
        await using var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            configureBuilder: b =>
            {
                // With logging on, as in production, ASP.NET Core makes a request activity even though nobody traces.
                FakeLogs.Enable(b, LogLevel.Information);
                b.Services.AddSingleton<IStartupFilter>(new CaptureRequestActivity(seen));
            });

        using var response = await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
        var activity = Assert.Single(seen);
        Assert.NotNull(activity);
        Assert.False(activity.Recorded);
        Assert.Null(activity.GetTagItem("xtac.decision"));
        Assert.NotEqual(ActivityStatusCode.Error, activity.Status);
    }

    [Theory]
    [InlineData("always_on", null, true)]
    [InlineData("parentbased_traceidratio", "1", true)]
    [InlineData("parentbased_traceidratio", "0", false)]
    [InlineData("always_off", null, false)]
    public async Task Invoke_StandardSamplerVariable_OnlySampledSpansGetDecisionTags(string sampler, string? ratio, bool tagged)
    {
        // README tells busy gateways to sample with OTEL_TRACES_SAMPLER: the span attributes cost only on sampled spans.
        var seen = new List<Activity?>();
        await using var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                s["Xtac:Telemetry:Tracing"] = "true";
                s["OTEL_TRACES_SAMPLER"] = sampler;
                if (ratio is not null)
                {
                    s["OTEL_TRACES_SAMPLER_ARG"] = ratio;
                }
            },
            configureBuilder: b => b.Services.AddSingleton<IStartupFilter>(new CaptureRequestActivity(seen)));

        using var response = await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
        var activity = Assert.Single(seen);
        Assert.NotNull(activity);
        Assert.Equal(tagged, activity.Recorded);
        Assert.Equal(tagged ? "deny" : null, activity.GetTagItem("xtac.decision"));
        Assert.Equal(tagged ? ActivityStatusCode.Error : ActivityStatusCode.Unset, activity.Status);
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "", true)]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces", true)]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics", false)]
    [InlineData("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs", false)]
    public async Task Invoke_OtlpEndpointVariable_SpansRecordedOnlyWhenTracesHaveAnEndpoint(string variable, string path, bool recorded)
    {
        // Recording spans costs on every request: only an endpoint for traces (its own or the common one) turns it on.
        await using var collector = await OtlpCollector.StartAsync();
        var seen = new List<Activity?>();
        await using var gateway = await GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                s[variable] = collector.Url + path;
                s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            },
            configureBuilder: b => b.Services.AddSingleton<IStartupFilter>(new CaptureRequestActivity(seen)));

        using var response = await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
        var activity = Assert.Single(seen);
        Assert.Equal(recorded, activity?.Recorded == true);
        Assert.Equal(recorded ? "deny" : null, activity?.GetTagItem("xtac.decision"));
    }

    [Fact]
    public async Task Reload_FileChangedThenInvalid_PolicyLoadSpansCarrySourceResultAndVersion()
    {
        var spans = new ExportedItems<Activity>();
        await using var gateway = await StartTracedAsync(spans);

        Activity? Load(string result)
            => spans.Snapshot().FirstOrDefault(s => s.OperationName == "xtac.policy.load" && Equals(s.GetTagItem("xtac.policy.result"), result));

        await gateway.WritePolicyAsync(TestPolicies.Document(TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll)));
        await WaitUntilAsync(() => Load("success") is not null);
        await gateway.WritePolicyAsync("{ \"default\": 7 }");
        await WaitUntilAsync(() => Load("invalid") is not null);

        var loaded = Load("success")!;
        Assert.Equal("XtacGateway", loaded.Source.Name);
        Assert.Equal("file", loaded.GetTagItem("xtac.policy.source"));
        Assert.Equal(gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.Version, loaded.GetTagItem("xtac.policy.version"));
        Assert.Equal(ActivityStatusCode.Unset, loaded.Status);
        var rejected = Load("invalid")!;
        Assert.Equal(ActivityStatusCode.Error, rejected.Status);
        Assert.Equal("invalid", rejected.StatusDescription);
    }

    [Fact]
    public async Task Reload_PolicyFileStillMissing_EveryLoadSpanCarriesFailure()
    {
        var spans = new ExportedItems<Activity>();
        await using var gateway = await StartTracedAsync(spans);

        File.Delete(gateway.PolicyPath);
        await WaitUntilAsync(() => gateway.Service<PolicySnapshotStore>().SourceState == PolicySourceState.Degraded);

        // The watcher counted the missing file once, outside any load; each load that finds it still missing is not
        // counted again, but its span must still say it failed.
        for (var i = 0; i < 2; i++)
        {
            using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");
            Assert.False(reload.IsSuccessStatusCode);
        }

        var recorded = spans.Snapshot();
        var failed = recorded.Where(s => s.OperationName == "xtac.policy.load" && !Equals(s.GetTagItem("xtac.policy.result"), "success")).ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, load =>
        {
            Assert.Equal("failure", load.GetTagItem("xtac.policy.result"));
            Assert.Equal(ActivityStatusCode.Error, load.Status);
            Assert.Contains(recorded, s => s.SpanId == load.ParentSpanId && Equals(s.GetTagItem("url.path"), "/admin/policies/reload"));
        });
    }

    [Fact]
    public async Task Invoke_ManagementRequests_OnlyAdminCallsAreTraced()
    {
        var spans = new ExportedItems<Activity>();
        await using var gateway = await StartTracedAsync(spans);

        string[] scrapes = ["/metrics", "/health", "/healthz", "/readyz"];
        foreach (var path in scrapes)
        {
            using var scrape = await gateway.Management.GetAsync(path);
            Assert.True(scrape.IsSuccessStatusCode, path);
        }

        using (var admin = await gateway.AdminAsync(HttpMethod.Get, "/admin/policies/crossTenantAccessPolicy/partners"))
        {
            Assert.True(admin.IsSuccessStatusCode);
        }

        var paths = spans.Snapshot().Where(s => s.Kind == ActivityKind.Server).Select(s => s.GetTagItem("url.path") as string).ToList();
        Assert.Single(paths, p => p == "/admin/policies/crossTenantAccessPolicy/partners");
        Assert.DoesNotContain(paths, scrapes.Contains);
    }

    /// <summary>A gateway recording every span, into <paramref name="spans"/>.</summary>
    private static Task<GatewayHarness> StartTracedAsync(ExportedItems<Activity> spans)
        => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["Xtac:Telemetry:Tracing"] = "true",
            configureBuilder: b => b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 10 s.");
            await Task.Delay(50);
        }
    }

    private sealed class CaptureRequestActivity(List<Activity?> seen) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, inner) =>
            {
                await inner(context);
                if (context.Request.Path == "/a")
                {
                    lock (seen)
                    {
                        seen.Add(context.Features.Get<IHttpActivityFeature>()?.Activity);
                    }
                }
            });
            next(app);
        };
    }
}

using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using XtacGateway.Observability;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Observability;

/// <summary>
/// OpenTelemetry's Prometheus exporter listens to meters by name across the process, so these tests run alone:
/// a gateway of a parallel test would add its series to the scrape.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed partial class PrometheusExportTests
{
    [Fact]
    public async Task Metrics_Scraped_ExposesGatewaySeriesOnManagementListenerOnly()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        (await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner))).Dispose();

        var text = await gateway.Management.GetStringAsync("/metrics");
        var series = text.Split('\n').Where(l => l.StartsWith("xtac_decisions_total{", StringComparison.Ordinal)).ToArray();
        var counted = series.Where(l => !ZeroValue().IsMatch(l.TrimEnd())).ToArray();
        Assert.True(counted.Length == 1, string.Join("\n", series));
        var line = counted[0];
        Assert.Contains("xtac_reason=\"InboundPolicyBlocked\"", line, StringComparison.Ordinal);
        Assert.Matches(@"\} 1( \d+)?$", line.TrimEnd());
        // A decision not made yet is a series at zero, so its first occurrence shows in rate() and increase().
        Assert.Contains(series, l => l.Contains($"xtac_app=\"{TestIds.MfaApp}\"", StringComparison.Ordinal)
            && l.Contains("xtac_reason=\"MfaRequired\"", StringComparison.Ordinal) && ZeroValue().IsMatch(l.TrimEnd()));
        Assert.Contains(text.Split('\n'), l => l.StartsWith("xtac_policy_version", StringComparison.Ordinal));

        using var throughProxy = await gateway.Client.GetAsync("/metrics");
        Assert.NotEqual(HttpStatusCode.OK, throughProxy.StatusCode);
    }

    [Fact]
    public async Task Metrics_FirstScrape_EveryReloadResultHasItsSeriesAndTheFirstLoadIsCounted()
    {
        // A series born at one hides its first event from increase(): the first rejected policy must show.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var reloads = (await gateway.Management.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("xtac_policy_reloads_total{", StringComparison.Ordinal))
            .ToDictionary(l => l[(l.IndexOf("result=\"", StringComparison.Ordinal) + 8)..].Split('"')[0], l => double.Parse(l.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(0, reloads["invalid"]);
        Assert.Equal(0, reloads["failure"]);
        Assert.Equal(1, reloads["success"]);
    }

    [Fact]
    public async Task Metrics_DecisionDuration_BucketsResolveTheSubMicrosecondRange()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:DurationSampleInterval"] = "1");
        (await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner))).Dispose();

        var bounds = (await gateway.Management.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("xtac_decision_duration_seconds_bucket{", StringComparison.Ordinal))
            .Select(l => Regex.Match(l, "le=\"([^\"]+)\"").Groups[1].Value)
            .Where(le => le != "+Inf")
            .Select(le => double.Parse(le, System.Globalization.CultureInfo.InvariantCulture))
            .ToArray();

        // A decision takes tens of nanoseconds: with 1 us as the lowest bound every p50 and p99 would read as an
        // interpolation inside that one bucket, whatever the real latency.
        Assert.True(bounds.Count(b => b < 0.000_001) >= 4, "bucket bounds: " + string.Join(", ", bounds));
    }

    [Fact]
    public async Task Metrics_RequestDuration_BucketsResolveTheMillisecondRange()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        (await gateway.GetAsync("/a", gateway.Token())).Dispose();

        var bounds = (await gateway.Management.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("http_server_request_duration_seconds_bucket{", StringComparison.Ordinal))
            .Select(l => Regex.Match(l, "le=\"([^\"]+)\"").Groups[1].Value)
            .Where(le => le != "+Inf")
            .Select(le => double.Parse(le, System.Globalization.CultureInfo.InvariantCulture))
            .Distinct()
            .ToArray();

        // A proxied request takes about 2 ms: the dashboard's proxy p50 and p99 need bounds below ASP.NET Core's 5 ms.
        Assert.True(bounds.Count(b => b < 0.005) >= 4, "bucket bounds: " + string.Join(", ", bounds));
    }

    [Fact]
    public async Task Metrics_RequestDuration_RequestsTheGatewayAnsweredItselfAreMarked()
    {
        // The dashboard's proxy latency leaves these out: they never reached an upstream.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        static async Task<int> StatusOf(Task<HttpResponseMessage> sending)
        {
            using var response = await sending;
            return (int)response.StatusCode;
        }

        var answers = new Dictionary<string, int>
        {
            ["200"] = await StatusOf(gateway.GetAsync("/orders", gateway.Token())),
            ["400"] = (await RawHttp.GetAsync(gateway.Client.BaseAddress!, "/orders//1", $"Authorization: Bearer {gateway.Token()}")).Status,
            ["401"] = await StatusOf(gateway.Client.GetAsync("/orders")),
            ["403"] = await StatusOf(gateway.GetAsync("/orders", gateway.Token(TestIds.BlockedPartner))),
        };
        Assert.All(answers, a => Assert.Equal(a.Key, a.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        // The scrape holds every in-process server's series (the backend's too): the gateway's proxy route, and the
        // refused path, which is answered before routing. A request's duration is recorded after its response is sent,
        // so the scrape is repeated until all four are in.
        var counts = Array.Empty<string>();
        await Eventually.TrueAsync(async () =>
        {
            counts = (await gateway.Management.GetStringAsync("/metrics")).Split('\n')
                .Where(l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal)
                    && (l.Contains("http_route=\"/{**catch-all}\"", StringComparison.Ordinal) || l.Contains("http_response_status_code=\"400\"", StringComparison.Ordinal)))
                .ToArray();
            return answers.Keys.All(status => counts.Any(l => l.Contains($"http_response_status_code=\"{status}\"", StringComparison.Ordinal)));
        }, TimeSpan.FromSeconds(10));

        foreach (var status in answers.Keys)
        {
            var series = counts.Where(l => l.Contains($"http_response_status_code=\"{status}\"", StringComparison.Ordinal)).ToArray();
            Assert.True(series.Length == 1, $"{status}: " + string.Join("\n", counts));
            Assert.Equal(status != "200", series[0].Contains("xtac_answered_by=\"gateway\"", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Metrics_RequestDuration_RouteAuthorizationPolicyRefusalIsMarked()
    {
        // A route's own YARP AuthorizationPolicy is answered by ASP.NET Core's authorization middleware, not the
        // enforcement step: its 401 never reached an upstream either.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:public:AuthorizationPolicy"] = "default");
        using (var refused = await gateway.GetAsync("/public/status", token: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var forwarded = await gateway.GetAsync("/public/status", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        }

        var series = Array.Empty<string>();
        await Eventually.TrueAsync(async () =>
        {
            series = (await gateway.Management.GetStringAsync("/metrics")).Split('\n')
                .Where(l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("http_route=\"/public/{**catch-all}\"", StringComparison.Ordinal))
                .ToArray();
            return series.Length == 2;
        }, TimeSpan.FromSeconds(10));

        Assert.True(series.Length == 2, string.Join("\n", series));
        Assert.Contains("xtac_answered_by=\"gateway\"", Assert.Single(series, l => l.Contains("http_response_status_code=\"401\"", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("xtac_answered_by", Assert.Single(series, l => l.Contains("http_response_status_code=\"200\"", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_TenantDimensionWithManyPartners_EveryTenantKeepsItsOwnSeries()
    {
        // More tenants than OpenTelemetry's default 2,000 series per instrument.
        const int Tenants = 2_500;
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:TenantDimension"] = "true");
        var telemetry = gateway.Service<GatewayTelemetry>();
        var app = TestIds.OpenApp.ToString();
        var tenants = Enumerable.Range(0, Tenants).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var tenant in tenants)
        {
            telemetry.RecordDecision(new Decision(DecisionReason.InboundPolicyBlocked, SettingsSource.Default, tenant, TestIds.OpenApp), GatewayTelemetry.AppSlot(app), app, 0);
        }

        var series = (await gateway.Management.GetStringAsync("/metrics")).Split('\n').Where(l => l.StartsWith("xtac_decisions_total{", StringComparison.Ordinal)).ToArray();

        Assert.DoesNotContain(series, l => l.Contains("otel_metric_overflow", StringComparison.Ordinal));
        Assert.All(tenants, t => Assert.Contains(series, l => l.Contains($"xtac_home_tenant=\"{t}\"", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Metrics_InFlightInstrumentsSetting_ExportedOnlyWhenOn(bool on)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:InFlightInstruments"] = on ? "true" : null);
        using (var proxied = await gateway.GetAsync("/orders", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        }

        var lines = (await gateway.Management.GetStringAsync("/metrics")).Split('\n');

        // The request and upstream durations are exported either way.
        Assert.Contains(lines, l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("http_client_request_duration_seconds_count{", StringComparison.Ordinal));
        foreach (var series in new[] { "http_server_active_requests{", "http_client_active_requests{", "http_client_open_connections{" })
        {
            Assert.True(on == lines.Any(l => l.StartsWith(series, StringComparison.Ordinal)), $"{series} exported: {!on}, expected {on}");
        }
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dashboard_EveryPanelQuery_ReturnsDataFromRealPrometheus(bool tenantDimension)
    {
        Integration.SkipUnless(PrometheusServer.BinaryPath is not null, "The 'prometheus' binary is not on PATH (Debian package 'prometheus'; .ci/run installs it).");

        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            // On, decisions are a tagged counter; off (the default), an observable counter read at each scrape.
            s["Xtac:Telemetry:TenantDimension"] = tenantDimension ? "true" : null;
            // A route to a closed port, so the upstream-errors panel has something to show.
            s["ReverseProxy:Routes:broken:ClusterId"] = "nowhere";
            s["ReverseProxy:Routes:broken:Match:Path"] = "/broken/{**catch-all}";
            s["ReverseProxy:Routes:broken:Metadata:Xtac.AppId"] = TestIds.OpenApp.ToString();
            s["ReverseProxy:Clusters:nowhere:Destinations:d1:Address"] = "http://127.0.0.1:9/";
        });
        var target = new Uri(gateway.Management.BaseAddress!, "/").Authority;
        await using var prometheus = await PrometheusServer.StartAsync(target);

        // A panel that needs the tenant dimension shows nothing without it, and is checked to show nothing.
        var all = DashboardExpressions();
        var expressions = all.Where(e => tenantDimension || !e.NeedsTenantDimension).Select(e => e.Query).ToList();
        var tenantOnly = all.Where(e => !tenantDimension && e.NeedsTenantDimension).Select(e => e.Query).ToList();
        Assert.True(tenantDimension || tenantOnly.Count > 0, "No dashboard panel is marked as needing the tenant dimension.");
        // Every panel the issue names is there, with a query.
        foreach (var required in RequiredPanels)
        {
            Assert.True(all.Any(e => e.Title.StartsWith(required, StringComparison.Ordinal)), $"No dashboard panel '{required}...'");
        }

        // A little traffic of every kind, spread over several scrapes so rates have two samples.
        var token = gateway.Token();
        var blocked = gateway.Token(TestIds.BlockedPartner);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var pending = expressions.ToList();
        var round = 0;
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            // Enough decisions for the latency histogram, which times one decision in 64 on each thread by default.
            for (var i = 0; i < 16; i++)
            {
                (await gateway.GetAsync("/orders", token)).Dispose();
            }

            (await gateway.GetAsync("/orders", blocked)).Dispose();
            (await gateway.GetAsync("/mfa/report", token)).Dispose();
            (await gateway.GetAsync("/broken/x", token)).Dispose();
            if (round++ % 10 == 0)
            {
                await File.WriteAllTextAsync(gateway.PolicyPath, TestPolicies.Standard() + new string(' ', round));
            }

            if (round > 5)
            {
                var stillEmpty = new List<string>();
                foreach (var expression in pending)
                {
                    // Above zero, not merely present: counters seeded at zero (reload failures, say) are no sign of data.
                    if (await prometheus.QueryAsync(expression, aboveZero: true) == 0)
                    {
                        stillEmpty.Add(expression);
                    }
                }

                pending = stillEmpty;
            }

            await Task.Delay(500);
        }

        Assert.True(pending.Count == 0, "Dashboard queries that returned no data:\n" + string.Join("\n", pending));
        foreach (var expression in tenantOnly)
        {
            Assert.True(await prometheus.QueryAsync(expression) == 0, $"Returned data without the tenant dimension: {expression}");
        }
    }

    /// <summary>The panels issue 5 asks for, by the start of their titles.</summary>
    private static readonly string[] RequiredPanels =
    [
        "Decisions per second by decision", "Decisions per second by reason", "Deny ratio per app", "Top denied partners",
        "Decision latency p50 / p99", "Proxy latency p50 / p99", "Upstream errors", "Policy version per instance",
        "Policy reloads by result", "Token cache hit ratio",
    ];

    /// <summary>
    /// Every PromQL expression of the dashboard (panels, panels inside rows, template variables' queries), with
    /// Grafana's range variables given concrete values.
    /// </summary>
    private static List<(string Title, string Query, bool NeedsTenantDimension)> DashboardExpressions()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Combine("src", "XtacGateway", "Observability", "Dashboards", "xtac-gateway.json")));
        var expressions = new List<(string, string, bool)>();
        AddPanels(json.RootElement.GetProperty("panels"));
        if (json.RootElement.TryGetProperty("templating", out var templating))
        {
            foreach (var variable in templating.GetProperty("list").EnumerateArray())
            {
                if (variable.TryGetProperty("query", out var query))
                {
                    Add($"variable {variable.GetProperty("name").GetString()}", query.ValueKind == JsonValueKind.Object ? query.GetProperty("query").GetString() : query.GetString(), false);
                }
            }
        }

        return expressions;

        void AddPanels(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                if (panel.TryGetProperty("targets", out var targets))
                {
                    var title = panel.TryGetProperty("title", out var t) ? t.GetString()! : "";
                    var needsTenants = title.Contains("TenantDimension", StringComparison.Ordinal);
                    foreach (var target in targets.EnumerateArray())
                    {
                        Add(title, target.GetProperty("expr").GetString(), needsTenants);
                    }
                }

                if (panel.TryGetProperty("panels", out var nested))
                {
                    AddPanels(nested);
                }
            }
        }

        void Add(string title, string? expression, bool needsTenantDimension)
        {
            // Grafana's label_values(metric, label) variable query, as the PromQL that finds the same label values.
            var concrete = Regex.Replace(expression!, @"^label_values\((\w+), *(\w+)\)$", "group by ($2) ($1)")
                .Replace("$__rate_interval", "15s", StringComparison.Ordinal)
                .Replace("$__range", "5m", StringComparison.Ordinal)
                .Replace("$job", PrometheusServer.JobName, StringComparison.Ordinal);
            Assert.False(concrete.Contains('$', StringComparison.Ordinal), $"A dashboard variable this test does not give a value: {expression}");
            expressions.Add((title, concrete, needsTenantDimension));
        }
    }

    /// <summary>A Prometheus sample line whose value is zero, with or without a timestamp.</summary>
    [GeneratedRegex(@"\} 0( \d+)?$")]
    private static partial Regex ZeroValue();
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using XtacGateway.Policies;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Policies;

public sealed class GraphPolicySourceTests
{
    [Fact]
    public async Task GraphSource_PagesThrottlingAndReload_FeedsTheGateway()
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph);

        // Two pages of partners (the second after one 429), all loaded before the gateway took requests.
        var snapshot = gateway.Service<PolicySnapshotStore>().Current!;
        Assert.Equal(3, snapshot.PartnerCount);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/", gateway.Token(TestIds.UnlistedTenant))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("/", gateway.Token(TestIds.BlockedPartner))).StatusCode);
        Assert.All(graph.Requests, r => Assert.Equal("Bearer fake-graph-token", r.Authorization));
        var pageTwo = graph.Requests.Where(r => r.Query.Contains("skiptoken", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, pageTwo.Length);
        Assert.True(pageTwo[1].At - pageTwo[0].At >= TimeSpan.FromMilliseconds(900), "the retry did not wait for Retry-After");

        // On demand: the partner on page two is removed in Graph, and a reload enforces it.
        graph.DropSecondPagePartner = true;
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");
        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        Assert.True(reload.PolicyVersion() > snapshot.Version);
        var reloaded = await reload.JsonAsync();
        Assert.Equal(("graph", reload.PolicyVersion(), 2), ((string?)reloaded["source"], (long)reloaded["version"]!, (int)reloaded["partners"]!));
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("/", gateway.Token(TestIds.UnlistedTenant))).StatusCode);

        // Graph owns the policy: the admin API does not write it here.
        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");
        Assert.Equal(HttpStatusCode.Conflict, patch.StatusCode);
        Assert.Contains("Graph", (string?)(await patch.JsonAsync())["detail"]);

        // ...whatever the change: an invalid body, a partner it lacks, or a change that changes nothing.
        foreach (var (path, body) in new[]
        {
            ($"{AdminClient.Base}/default", """{ "inboundTrust": { "isMfaAccepted": "yes" } }"""),
            ($"{AdminClient.Base}/partners/{Guid.NewGuid()}", """{ "inboundTrust": null }"""),
            ($"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", $$"""{ "b2bDirectConnectInbound": {{TestPolicies.BlockedAll}} }"""),
        })
        {
            using var refused = await gateway.AdminAsync(HttpMethod.Patch, path, body);
            Assert.True(refused.StatusCode == HttpStatusCode.Conflict, $"{path}: {(int)refused.StatusCode}");
        }
    }

    [Theory]
    [InlineData("elsewhere", "not under")]
    [InlineData("first page again", "a page already read")]
    public async Task Reload_NextLinkLeavesGraphOrCircles_NotFollowedAndPolicyKept(string link, string refusal)
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph);
        var version = gateway.Service<PolicySnapshotStore>().Current!.Version;

        // Another host would receive the Graph token; a link back to page one would loop for ever.
        graph.FirstPageNextLink = link == "elsewhere"
            ? "http://127.0.0.1:9/v1.0/policies/crossTenantAccessPolicy/partners?$skiptoken=page2"
            : $"{graph.Url}/v1.0/policies/crossTenantAccessPolicy/partners";
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        Assert.Contains(refusal, (string?)(await reload.JsonAsync())["detail"], StringComparison.Ordinal);
        Assert.Equal(version, gateway.Service<PolicySnapshotStore>().Current!.Version);
    }

    [Theory]
    [InlineData("""{ }""")]
    [InlineData("""{ "value": null }""")]
    [InlineData("""{ "value": { } }""")]
    [InlineData("""{ "value": [], "@odata.nextLink": 7 }""")]
    public async Task Reload_PageWithoutItsPartners_RefusedAndPolicyKept(string secondPage)
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph);
        var version = gateway.Service<PolicySnapshotStore>().Current!.Version;

        // Read as an empty page, it would drop page two's partners, and their tenants would fall to the default.
        graph.SecondPage = secondPage;
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        Assert.Contains("skiptoken=page2", (string?)(await reload.JsonAsync())["detail"], StringComparison.Ordinal);
        Assert.Equal(version, gateway.Service<PolicySnapshotStore>().Current!.Version);
        Assert.Equal(3, gateway.Service<PolicySnapshotStore>().Current!.PartnerCount);
    }

    [Fact]
    public async Task Reload_PageRedirectsElsewhere_NotFollowedAndPolicyKept()
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph);
        var version = gateway.Service<PolicySnapshotStore>().Current!.Version;

        // The nextLink check covers links, not redirects: a page from another address must not be taken either.
        graph.SecondPageRedirect = "http://127.0.0.1:9/v1.0/policies/crossTenantAccessPolicy/partners?$skiptoken=page2";
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        Assert.Contains("answered 302", (string?)(await reload.JsonAsync())["detail"], StringComparison.Ordinal);
        Assert.Equal(version, gateway.Service<PolicySnapshotStore>().Current!.Version);
    }

    [Fact]
    public async Task Reload_GraphLinksToNewPagesForEver_GivenUpAtThePullTimeoutAndPolicyKept()
    {
        // No throttling: the first pull, at start-up, must finish within the short timeout.
        await using var graph = await FakeGraph.StartAsync(transientCount: 0);
        await using var gateway = await StartGatewayAsync(graph, s => s["Xtac:Policy:Graph:PullTimeout"] = "00:00:03");
        var version = gateway.Service<PolicySnapshotStore>().Current!.Version;
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());

        // Every page is new (no circle to notice), and none is the last.
        graph.EndlessPages = true;
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        Assert.Contains("Xtac:Policy:Graph:PullTimeout", (string?)(await reload.JsonAsync())["detail"], StringComparison.Ordinal);
        Assert.True(graph.Requests.Count(r => r.Query.Contains("endless", StringComparison.Ordinal)) > 1, "the fake Graph served no endless pages");
        Assert.Equal(version, gateway.Service<PolicySnapshotStore>().Current!.Version);

        // An on-demand pull that fails is counted and reported as a background one is.
        Assert.Contains("failure", reloads.Results);
        Assert.Equal(PolicySourceState.Degraded, gateway.Service<PolicySnapshotStore>().SourceState);
    }

    [Fact]
    public async Task Reload_FailsThenGraphRecovers_HealthyAgainWithoutWaitingForTheRefreshInterval()
    {
        // The background pull waits out the 5-minute refresh interval; a failed on-demand pull moves it to the backoff,
        // so the degraded state it reported does not outlast Graph's recovery by minutes.
        await using var graph = await FakeGraph.StartAsync(transientCount: 0);
        await using var gateway = await StartGatewayAsync(graph);
        var store = gateway.Service<PolicySnapshotStore>();

        graph.SecondPage = """{ }""";
        using (var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        }

        Assert.Equal(PolicySourceState.Degraded, store.SourceState);
        graph.SecondPage = null;

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(store.SourceState == PolicySourceState.Healthy), TimeSpan.FromSeconds(30)),
            "the source stayed degraded after Graph recovered");
    }

    [Fact]
    public async Task Reload_GraphListsTheSamePartnersInAnotherOrder_SameVersion()
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph);
        var before = gateway.Service<PolicySnapshotStore>().Current!;

        graph.SecondPage = $$"""{ "value": [ {{TestPolicies.Partner(TestIds.UnlistedTenant, TestPolicies.AllowedAll)}}, {{TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll)}} ] }""";
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        Assert.Same(before, gateway.Service<PolicySnapshotStore>().Current);
    }

    [Fact]
    public async Task Refresh_GraphPageFails_CountedAsAFailedReload()
    {
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await StartGatewayAsync(graph, s => s["Xtac:Policy:Graph:RefreshInterval"] = "00:00:00.200");
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());

        graph.SecondPage = """{ }""";

        await reloads.WaitForAsync("failure", TimeSpan.FromSeconds(30));
        Assert.Equal(PolicySourceState.Degraded, gateway.Service<PolicySnapshotStore>().SourceState);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(504)]
    public async Task Start_GraphBrieflyUnavailable_RetriedAndLoaded(int status)
    {
        await using var graph = await FakeGraph.StartAsync(transientStatus: status);
        await using var gateway = await StartGatewayAsync(graph);

        Assert.Equal(3, gateway.Service<PolicySnapshotStore>().Current?.PartnerCount);
        Assert.Equal(PolicySourceState.Healthy, gateway.Service<PolicySnapshotStore>().SourceState);
    }

    [Fact]
    public async Task Start_GraphThrottlesPastTheStartupWait_ListensDegradedWithoutWaiting()
    {
        // Five attempts at page two, each told to wait 50 s: over three minutes before the first pull gives up.
        await using var graph = await FakeGraph.StartAsync(transientStatus: 429, transientCount: int.MaxValue, retryAfterSeconds: 50);
        var starting = StartGatewayAsync(graph, s => s["Xtac:Policy:Graph:StartupWait"] = "00:00:01");

        Assert.True(await Task.WhenAny(starting, Task.Delay(TimeSpan.FromSeconds(60))) == starting, "start-up waited for the throttled pull");
        await using var gateway = await starting;
        Assert.Null(gateway.Service<PolicySnapshotStore>().Current);
        Assert.Equal(PolicySourceState.Degraded, gateway.Service<PolicySnapshotStore>().SourceState);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gateway.Management.GetAsync("/readyz")).StatusCode);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(403)]
    public async Task Start_GraphFailsAfterAnEarlierRun_StartsFromTheLastKnownGoodPolicyDegraded(int status)
    {
        // A 500, or a 403 (the app lost Policy.Read.All): either way the policy the last run held is enforced.
        await using var graph = await FakeGraph.StartAsync(transientCount: 0);
        using var temp = new TempDirectory("xtac-graph-lkg-");
        string etag;
        await using (var first = await StartGatewayAsync(graph, directory: temp.Path))
        {
            etag = first.Service<PolicySnapshotStore>().Current!.ETag;
        }

        graph.Failing = status;
        await using var second = await StartGatewayAsync(graph, directory: temp.Path, configureBuilder: b => FakeLogs.Enable(b, LogLevel.Information));
        var store = second.Service<PolicySnapshotStore>();

        Assert.Equal(etag, store.Current?.ETag);
        Assert.Equal(PolicySourceState.Degraded, store.SourceState);
        Assert.Contains($"{status}", store.Source.Reason, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await second.GetAsync("/", second.Token(TestIds.BlockedPartner))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/", second.Token(TestIds.UnlistedTenant))).StatusCode);

        // The log names the policy started from, and the failure's warning the version in force (restored before it).
        var logs = second.App.Services.GetFakeLogCollector().GetSnapshot();
        var restored = Assert.Single(logs, r => r.Id.Id == 1103);
        Assert.Equal(LogLevel.Warning, restored.Level);
        Assert.Equal($"{store.Current!.Version}", restored.GetStructuredStateValue("Version"));
        Assert.Equal(Path.Combine(temp.Path, "last-known-good.json"), restored.GetStructuredStateValue("Path"));
        var failed = logs.First(r => r.Id.Id == 1101);
        Assert.Equal($"{store.Current.Version}", failed.GetStructuredStateValue("Version"));
        Assert.Contains($"{status}", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs, r => r.Id.Id == 1104);
    }

    [Fact]
    public async Task Start_GraphFailsOnTheFirstRun_LogsThatCrossTenantRequestsAreDeniedAndIsNotReady()
    {
        await using var graph = await FakeGraph.StartAsync(transientCount: 0);
        graph.Failing = 500;
        await using var gateway = await StartGatewayAsync(graph, configureBuilder: b => FakeLogs.Enable(b, LogLevel.Information));

        Assert.Null(gateway.Service<PolicySnapshotStore>().Current);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gateway.Management.GetAsync("/readyz")).StatusCode);
        var logs = gateway.App.Services.GetFakeLogCollector().GetSnapshot();
        var noPolicy = Assert.Single(logs, r => r.Id.Id == 1104);
        Assert.Equal(LogLevel.Error, noPolicy.Level);
        Assert.Equal(Path.Combine(gateway.Directory, "last-known-good.json"), noPolicy.GetStructuredStateValue("Path"));
        Assert.Contains("cross-tenant requests are denied", noPolicy.Message, StringComparison.Ordinal);
        Assert.Equal("0", logs.First(r => r.Id.Id == 1101).GetStructuredStateValue("Version"));
        Assert.DoesNotContain(logs, r => r.Id.Id == 1103);
    }

    /// <summary>When the requests for page two came, after the first.</summary>
    private static TimeSpan[] PageTwoRequestsAfterTheFirst(FakeGraph graph)
    {
        var pageTwo = graph.Requests.Where(r => r.Query.Contains("skiptoken", StringComparison.Ordinal)).Select(r => r.At).ToArray();
        return [.. pageTwo.Select(at => at - pageTwo[0])];
    }

    /// <summary>A failure backoff of 100-200 ms: a longer gap between two pulls is a wait that was asked for.</summary>
    private static void ShortBackoff(Dictionary<string, string?> settings)
    {
        settings["Xtac:Policy:RetryMinDelay"] = "00:00:00.100";
        settings["Xtac:Policy:RetryMaxDelay"] = "00:00:00.200";
    }

    /// <summary>Waits for the whole policy to be in force, then gives when page two was asked for, after the first time.</summary>
    private static async Task<TimeSpan[]> PageTwoRequestsOnceLoadedAsync(GatewayHarness gateway, FakeGraph graph)
    {
        var store = gateway.Service<PolicySnapshotStore>();
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(store.Current?.PartnerCount == 3), TimeSpan.FromSeconds(60)),
            "the policy was not loaded once Graph stopped throttling");
        return PageTwoRequestsAfterTheFirst(graph);
    }

    [Fact]
    public async Task Refresh_GraphAsksForALongerWaitThanMaxRetryAfter_NextPullWaitsAsAsked()
    {
        // Graph says "wait 4 s", more than this gateway waits inside a pull (1 s): the pull gives up, and the next one
        // comes no sooner than Graph asked, not at the backoff's 100 ms.
        await using var graph = await FakeGraph.StartAsync(transientStatus: 429, transientCount: 2, retryAfterSeconds: 4);
        await using var gateway = await StartGatewayAsync(graph, s =>
        {
            s["Xtac:Policy:Graph:MaxRetryAfter"] = "00:00:01";
            s["Xtac:Policy:Graph:RefreshInterval"] = "00:00:10";
            ShortBackoff(s);
        });
        Assert.Contains("asked to wait 4 s (Retry-After), longer than 1 s; the next pull waits as long",
            gateway.Service<PolicySnapshotStore>().Source.Reason, StringComparison.Ordinal);

        var pageTwo = await PageTwoRequestsOnceLoadedAsync(gateway, graph);
        Assert.True(pageTwo.Length >= 3 && pageTwo[1] >= TimeSpan.FromSeconds(3.9) && pageTwo[2] - pageTwo[1] >= TimeSpan.FromSeconds(3.9),
            $"a pull came sooner than Graph's Retry-After: {string.Join(", ", pageTwo)}");
    }

    [Fact]
    public async Task Start_StartupWaitEndsWhileWaitingOutRetryAfter_NextPullStillWaitsAsAsked()
    {
        // Graph says "wait 5 s" (within MaxRetryAfter), and start-up stops waiting after 1 s, in the middle of that wait:
        // the background pull still waits for the rest of it instead of asking again at the backoff.
        await using var graph = await FakeGraph.StartAsync(transientStatus: 429, transientCount: 1, retryAfterSeconds: 5);
        await using var gateway = await StartGatewayAsync(graph, s =>
        {
            s["Xtac:Policy:Graph:StartupWait"] = "00:00:01";
            ShortBackoff(s);
        });

        var pageTwo = await PageTwoRequestsOnceLoadedAsync(gateway, graph);
        Assert.True(pageTwo.Length >= 2 && pageTwo[1] >= TimeSpan.FromSeconds(4.9), $"a pull came sooner than Graph's Retry-After: {string.Join(", ", pageTwo)}");
    }

    [Fact]
    public async Task Refresh_GraphHoldsAnInvalidPolicy_AskedAgainOnlyAtTheRefreshInterval()
    {
        // Only an edit in Entra mends an invalid policy: Graph is not asked for it again at the failure backoff. (A
        // 6 s interval: the background pull due at start-up plus 6 s cannot fall into the reload just after start-up.)
        await using var graph = await FakeGraph.StartAsync(transientCount: 0);
        await using var gateway = await StartGatewayAsync(graph, s =>
        {
            s["Xtac:Policy:Graph:RefreshInterval"] = "00:00:06";
            ShortBackoff(s);
        });

        graph.SecondPage = """{ "value": [ { "tenantId": "not-a-tenant" } ] }""";
        using (var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        }

        var rejected = PageTwoRequestsAfterTheFirst(graph).Length;
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(PageTwoRequestsAfterTheFirst(graph).Length > rejected), TimeSpan.FromSeconds(30)),
            "Graph was not asked again");
        var pageTwo = PageTwoRequestsAfterTheFirst(graph);
        Assert.True(pageTwo[rejected] - pageTwo[rejected - 1] >= TimeSpan.FromSeconds(2.9),
            $"the invalid policy was asked for again before the refresh interval: {string.Join(", ", pageTwo)}");
        Assert.Equal(PolicySourceState.Degraded, gateway.Service<PolicySnapshotStore>().SourceState);
    }

    [Fact]
    public async Task TokenProvider_ApiAcceptsAnyOrganisation_AsksTheResourceTenantsAuthority()
    {
        // The real Microsoft.Identity.Web token acquisition, with the shipped 'organizations' tenant and an authority on a
        // closed loopback port. Client credentials need one tenant's token endpoint: the resource tenant's, whose policy
        // is read. The outgoing requests are observed on their way to the (refusing) authority.
        var requested = new ConcurrentQueue<Uri>();
        await using var graph = await FakeGraph.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            s["Xtac:Policy:Source"] = "Graph";
            s["Xtac:Policy:Graph:BaseUrl"] = $"{graph.Url}/v1.0/";
            s["Xtac:Policy:LastKnownGoodPath"] = "last-known-good.json";
            s["AzureAd:Instance"] = "https://127.0.0.1:9/";
            s["AzureAd:TenantId"] = "organizations";
            s["AzureAd:ClientId"] = TestIds.Audience;
            s["AzureAd:ClientSecret"] = "not-a-real-secret";
        }, configureBuilder: builder => builder.Services.ConfigureHttpClientDefaults(client => client.AddHttpMessageHandler(() => new ObservingHandler(requested))));
        requested.Clear();

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => gateway.Service<GraphTokenProvider>().GetAuthorizationHeaderAsync(CancellationToken.None));

        Assert.Contains("Connection refused (127.0.0.1:9)", ProblemAssert.AllMessages(failure), StringComparison.Ordinal);
        var paths = requested.Where(u => u.Port == 9).Select(u => u.AbsolutePath).ToArray();
        Assert.True(paths.Length > 0 && paths.All(p => p.StartsWith($"/{TestIds.ResourceTenant}/", StringComparison.OrdinalIgnoreCase)), string.Join(", ", paths));
    }

    /// <summary>Notes each request's address and sends it on unchanged.</summary>
    private sealed class ObservingHandler(ConcurrentQueue<Uri> requested) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            requested.Enqueue(request.RequestUri!);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>A gateway mirroring <paramref name="graph"/> with a fixed development token.</summary>
    private static Task<GatewayHarness> StartGatewayAsync(
        FakeGraph graph, Action<Dictionary<string, string?>>? configure = null, string? directory = null, Action<WebApplicationBuilder>? configureBuilder = null)
        => GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            s["Xtac:Policy:Source"] = "Graph";
            s["Xtac:Policy:Graph:BaseUrl"] = $"{graph.Url}/v1.0/";
            s["Xtac:Policy:Graph:DevelopmentBearerToken"] = "fake-graph-token";
            s["Xtac:Policy:LastKnownGoodPath"] = "last-known-good.json";
            configure?.Invoke(s);
        }, configureBuilder: configureBuilder, directory: directory);

    /// <summary>
    /// A fake Microsoft Graph on loopback (real Kestrel): the default, partners in two pages, page two first answered
    /// with <c>transientStatus</c> (one 429 unless told otherwise).
    /// </summary>
    private sealed class FakeGraph : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _transientLeft;
        private int _endlessPage;

        private FakeGraph(WebApplication app, int transientCount)
        {
            _app = app;
            _transientLeft = transientCount;
        }

        public string Url => _app.Urls.First();

        public ConcurrentQueue<(string Authorization, string Query, DateTimeOffset At)> Requests { get; } = new();

        public volatile bool DropSecondPagePartner;

        /// <summary>Every request answered with this status (no Retry-After), while set.</summary>
        public int? Failing
        {
            get => Volatile.Read(ref _failing) is var status and > 0 ? status : null;
            set => Volatile.Write(ref _failing, value ?? 0);
        }

        private int _failing;

        /// <summary>When set, the first partners page links here instead of to page two.</summary>
        public volatile string? FirstPageNextLink;

        /// <summary>When set, page two's body.</summary>
        public volatile string? SecondPage;

        /// <summary>When set, page two and every page after it link to yet another page, for ever.</summary>
        public volatile bool EndlessPages;

        /// <summary>When set, page two redirects here.</summary>
        public volatile string? SecondPageRedirect;

        public static async Task<FakeGraph> StartAsync(int transientStatus = 429, int transientCount = 1, int retryAfterSeconds = 1)
        {
            var app = LoopbackApp.Create();
            var graph = new FakeGraph(app, transientCount);
            app.Use(async (context, next) =>
            {
                graph.Requests.Enqueue((context.Request.Headers.Authorization.ToString(), context.Request.QueryString.Value ?? string.Empty, DateTimeOffset.UtcNow));
                if (graph.Failing is { } status)
                {
                    context.Response.StatusCode = status;
                    return;
                }

                await next(context);
            });
            app.MapGet("/v1.0/policies/crossTenantAccessPolicy/default", () => Results.Text($$"""
                {
                  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/default/$entity",
                  "isServiceDefault": true,
                  "inboundTrust": { "isMfaAccepted": false, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false },
                  "b2bDirectConnectInbound": {{TestPolicies.BlockedAll}}
                }
                """, "application/json"));
            app.MapGet("/v1.0/policies/crossTenantAccessPolicy/partners", (HttpContext context) =>
            {
                if (!context.Request.Query.ContainsKey("$skiptoken"))
                {
                    return Results.Text($$"""
                        {
                          "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners",
                          "@odata.nextLink": "{{graph.FirstPageNextLink ?? $"{graph.Url}/v1.0/policies/crossTenantAccessPolicy/partners?$skiptoken=page2"}}",
                          "value": [ {{TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, mfaAccepted: true)}} ]
                        }
                        """, "application/json");
                }

                if (Interlocked.Decrement(ref graph._transientLeft) >= 0)
                {
                    // A gateway timeout comes from a proxy, which names no wait.
                    if (transientStatus != StatusCodes.Status504GatewayTimeout)
                    {
                        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }

                    return Results.StatusCode(transientStatus);
                }

                if (graph.EndlessPages)
                {
                    var link = $"{graph.Url}/v1.0/policies/crossTenantAccessPolicy/partners?$skiptoken=endless{Interlocked.Increment(ref graph._endlessPage)}";
                    return Results.Text($$"""{ "value": [], "@odata.nextLink": "{{link}}" }""", "application/json");
                }

                if (graph.SecondPageRedirect is { } location)
                {
                    return Results.Redirect(location);
                }

                if (graph.SecondPage is { } secondPage)
                {
                    return Results.Text(secondPage, "application/json");
                }

                var partners = graph.DropSecondPagePartner
                    ? TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll)
                    : $"{TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll)}, {TestPolicies.Partner(TestIds.UnlistedTenant, TestPolicies.AllowedAll)}";
                return Results.Text($$"""{ "value": [ {{partners}} ] }""", "application/json");
            });
            await app.StartAsync();
            return graph;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}

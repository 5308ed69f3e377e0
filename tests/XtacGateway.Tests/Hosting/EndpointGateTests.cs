using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

public sealed class EndpointGateTests
{
    /// <summary>The key ASP.NET Core's authorization middleware adds to a request's items when it sees an endpoint.</summary>
    private const string FrameworkAuthorizationRanKey = "__AuthorizationMiddlewareWithEndpointInvoked";

    [Fact]
    public async Task Invoke_EachListener_ServesOnlyItsOwnEndpoints()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        await AssertListenersSeparatedAsync(gateway);
    }

    [Fact]
    public async Task Invoke_ListenersOnOnePortAtTwoAddresses_StillSeparated()
    {
        // The same port on 127.0.0.1 and 127.0.0.2: the port alone cannot tell the listeners apart.
        var port = FreeLoopbackPort();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            s["urls"] = $"http://127.0.0.1:{port}";
            s["Xtac:Management:Urls"] = $"http://127.0.0.2:{port}";
        });

        Assert.Equal(port, gateway.Client.BaseAddress!.Port);
        Assert.Equal(port, gateway.Management.BaseAddress!.Port);
        await AssertListenersSeparatedAsync(gateway);
    }

    [Fact]
    public async Task Invoke_RouteWithAuthorizationPolicy_RefusesAnonymousCaller()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:public:AuthorizationPolicy"] = "default");

        using var anonymous = await gateway.GetAsync("/public/status", token: null);
        using var authenticated = await gateway.GetAsync("/public/status", gateway.Token());

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);
        Assert.Single(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_FallbackPolicyConfigured_AppliesToRouteWithoutAuthorizationMetadata()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), configureBuilder: builder =>
            builder.Services.AddAuthorization(o => o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build()));

        using var anonymous = await gateway.GetAsync("/public/status", token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_RouteWithoutAuthorizationMetadata_FrameworkAuthorizationSkipped()
    {
        var probe = new AuthorizationProbe();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:mfa:AuthorizationPolicy"] = "default",
            configureBuilder: builder => builder.Services.AddSingleton<IStartupFilter>(probe));
        var token = gateway.Token(claims: c => c["amr"] = new List<object> { "pwd", "mfa" });

        using var plain = await gateway.GetAsync("/orders", token);
        using var withPolicy = await gateway.GetAsync("/mfa/report", token);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        // The route with a policy shows the probe sees the framework middleware when it runs.
        Assert.True(probe.FrameworkRan["/mfa/report"]);
        Assert.False(probe.FrameworkRan["/orders"]);
    }

    /// <summary>
    /// A proxy route, a management endpoint and health, each asked on both listeners with a valid token: only the
    /// proxy listener proxies, only the management listener serves /metrics, both serve health.
    /// </summary>
    private static async Task AssertListenersSeparatedAsync(GatewayHarness gateway)
    {
        var token = gateway.Token();
        var expected = new (HttpClient Listener, string Path, HttpStatusCode Status)[]
        {
            (gateway.Client, "/orders", HttpStatusCode.OK),
            (gateway.Management, "/orders", HttpStatusCode.NotFound),
            (gateway.Client, "/metrics", HttpStatusCode.NotFound),
            (gateway.Management, "/metrics", HttpStatusCode.OK),
            (gateway.Client, "/healthz", HttpStatusCode.OK),
            (gateway.Management, "/healthz", HttpStatusCode.OK),
        };

        foreach (var (listener, path, status) in expected)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new("Bearer", token);
            using var response = await listener.SendAsync(request);
            Assert.True(status == response.StatusCode, $"{path} on {listener.BaseAddress}: {(int)response.StatusCode}, expected {(int)status}");
        }

        // Only /orders on the proxy listener reached the upstream.
        Assert.Equal("/orders", Assert.Single(gateway.Backend.Requests).Path);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Outermost middleware: records, per path, whether ASP.NET Core's authorization middleware ran.</summary>
    private sealed class AuthorizationProbe : IStartupFilter
    {
        public ConcurrentDictionary<string, bool> FrameworkRan { get; } = new();

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                var path = context.Request.Path.Value!;
                await nextMiddleware(context);
                FrameworkRan[path] = context.Items.ContainsKey(FrameworkAuthorizationRanKey);
            });
            next(app);
        };
    }
}

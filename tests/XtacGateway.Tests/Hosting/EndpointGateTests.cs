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
    public async Task Invoke_ProxyRouteOnManagementListener_NotFoundAndUpstreamUntouched()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders");
        request.Headers.Authorization = new("Bearer", gateway.Token());
        using var response = await gateway.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_ManagementEndpointOnProxyListener_NotFound()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var metrics = await gateway.Client.GetAsync("/metrics");
        using var onManagement = await gateway.Management.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onManagement.StatusCode);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_HealthEndpoint_ServedOnBothListeners()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var proxy = await gateway.Client.GetAsync("/healthz");
        using var management = await gateway.Management.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, proxy.StatusCode);
        Assert.Equal(HttpStatusCode.OK, management.StatusCode);
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
        var token = gateway.Token();

        using var proxied = await gateway.GetAsync("/orders", token);
        using var metricsOnProxy = await gateway.Client.GetAsync("/metrics");
        using var metrics = await gateway.Management.GetAsync("/metrics");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders");
        request.Headers.Authorization = new("Bearer", token);
        using var proxyRouteOnManagement = await gateway.Management.SendAsync(request);

        Assert.Equal(port, gateway.Client.BaseAddress!.Port);
        Assert.Equal(port, gateway.Management.BaseAddress!.Port);
        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, metricsOnProxy.StatusCode);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, proxyRouteOnManagement.StatusCode);
        Assert.Single(gateway.Backend.Requests);
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

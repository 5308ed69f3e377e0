using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
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

    private const string AdminPolicyPath = "/admin/policies/crossTenantAccessPolicy/default";

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
        var port = LoopbackPort.Free();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            s["urls"] = $"http://127.0.0.1:{port}";
            s["Xtac:Management:Urls"] = $"http://127.0.0.2:{port}";
        });

        Assert.Equal(port, gateway.Client.BaseAddress!.Port);
        Assert.Equal(port, gateway.Management.BaseAddress!.Port);
        await AssertListenersSeparatedAsync(gateway);
    }

    [SkippableTheory]
    [InlineData("+")]
    [InlineData("*")]
    public async Task Invoke_ManagementListenerOnEveryAddress_AnswersOverIPv4AndIPv6(string host)
    {
        // As ASP.NET Core's 'urls' reads '+' and '*': a dual-mode socket, not IPv4 alone (IPv6-only clusters).
        // A skip even where integration is required: CI can install a server, not give its host IPv6.
        Skip.IfNot(Socket.OSSupportsIPv6, "This machine has no IPv6.");
        var port = LoopbackPort.Free();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Management:Urls"] = $"http://{host}:{port}");

        using var client = new HttpClient();
        foreach (var address in new[] { "127.0.0.1", "[::1]" })
        {
            using var metrics = await client.GetAsync($"http://{address}:{port}/metrics");
            Assert.True(metrics.StatusCode == HttpStatusCode.OK, $"{address}: {(int)metrics.StatusCode}");
        }

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
    public async Task Invoke_RoutePolicyFailsWithInternalReason_ForbiddenWithoutTheReason()
    {
        // Only reasons written for callers (the admin roles') are shown: another handler's may name what a caller must
        // not learn.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:public:AuthorizationPolicy"] = "internal",
            configureBuilder: builder => builder.Services.AddAuthorization(o => o.AddPolicy("internal", p => p.AddRequirements(new FailsWithInternalReason()))));

        using var response = await gateway.GetAsync("/public/status", gateway.Token());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain(FailsWithInternalReason.Reason, await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(response.Headers.WwwAuthenticate, h => h.ToString().Contains(FailsWithInternalReason.Reason));
        Assert.Empty(gateway.Backend.Requests);
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

    [Theory]
    [InlineData("POST", "/metrics")]
    [InlineData("POST", "/health")]
    [InlineData("PUT", AdminPolicyPath)]
    [InlineData("GET", AdminPolicyPath)]
    public async Task Invoke_ManagementPathOnProxyListenerWithoutCatchAll_NotFound(string method, string path)
    {
        // No proxy route matches these paths: 404, not a 405 listing the management endpoint's methods.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:open:Match:Path"] = "/orders/{**catch-all}");
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Authorization = new("Bearer", gateway.Token());

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(response.Content.Headers.Allow);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("PUT", AdminPolicyPath, "GET,PATCH")]
    [InlineData("DELETE", "/admin/policies/crossTenantAccessPolicy/partners", "GET,POST")]
    [InlineData("POST", "/admin/audit", "GET")]
    [InlineData("GET", "/admin/policies/reload", "POST")]
    [InlineData("POST", "/metrics", "GET")]
    [InlineData("DELETE", "/health", "GET")]
    public async Task Invoke_WrongMethodOnManagementListener_MethodNotAllowedWithAllow(string method, string path, string allowed)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Authorization = new("Bearer", gateway.Token());

        using var response = await gateway.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allowed.Split(','), response.Content.Headers.Allow.Order(StringComparer.Ordinal));
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Invoke_WrongMethodForProxyRouteOnManagementListener_NotFound()
    {
        // The route answers GET only: on the management listener its path is not served at all, so no 405 names its methods.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:open:Match:Methods:0"] = "GET");
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/orders");
        request.Headers.Authorization = new("Bearer", gateway.Token());

        using var response = await gateway.Management.SendAsync(request);
        using var onProxy = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/orders"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(response.Content.Headers.Allow);
        // The same request on the proxy listener shows the route does refuse the method there.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, onProxy.StatusCode);
    }

    [Fact]
    public async Task Health_ProxyListener_AnswersStatusAndVersionOnly()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        foreach (var path in new[] { "/healthz", "/readyz" })
        {
            using var proxy = JsonDocument.Parse(await gateway.Client.GetStringAsync(path));
            using var management = JsonDocument.Parse(await gateway.Management.GetStringAsync(path));

            Assert.Equal(["status", "policyVersion"], proxy.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(management.RootElement.GetProperty("policyVersion").GetInt64(), proxy.RootElement.GetProperty("policyVersion").GetInt64());
            // The management listener tells operators the rest.
            Assert.Equal(2, management.RootElement.GetProperty("policyPartners").GetInt32());
            Assert.True(management.RootElement.TryGetProperty("policyETag", out _));
            Assert.True(management.RootElement.TryGetProperty("checks", out _));
        }
    }

    [Fact]
    public async Task Health_MethodOtherThanGetOrHead_IsNoProbe()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        foreach (var listener in new[] { gateway.Client, gateway.Management })
        {
            foreach (var path in new[] { "/healthz", "/readyz" })
            {
                using var head = await listener.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
                Assert.True(head.StatusCode == HttpStatusCode.OK, $"HEAD {path} on {listener.BaseAddress}: {(int)head.StatusCode}");
            }
        }

        using var onManagement = await gateway.Management.PostAsync("/readyz", content: null);
        using var onProxy = new HttpRequestMessage(HttpMethod.Post, "/readyz");
        onProxy.Headers.Authorization = new("Bearer", gateway.Token());
        using var forwarded = await gateway.Client.SendAsync(onProxy);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, onManagement.StatusCode);
        Assert.Equal([HttpMethods.Get, HttpMethods.Head], onManagement.Content.Headers.Allow.Order());
        // On the proxy listener a POST to the probe's path is the app's request, enforced and forwarded like any other.
        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal([("POST", "/readyz")], gateway.Backend.Requests.Select(r => (r.Method, r.Path)));
    }

    /// <summary>
    /// Proxy paths, management paths and health, each asked on both listeners with a valid token: the management
    /// listener serves only its own endpoints; the proxy listener serves health and forwards everything else to the
    /// app through its catch-all route, the management paths included (they are the app's paths there).
    /// </summary>
    private static async Task AssertListenersSeparatedAsync(GatewayHarness gateway)
    {
        var token = gateway.Token();
        var expected = new (HttpClient Listener, string Path, HttpStatusCode Status)[]
        {
            (gateway.Client, "/orders", HttpStatusCode.OK),
            (gateway.Management, "/orders", HttpStatusCode.NotFound),
            (gateway.Client, "/metrics", HttpStatusCode.OK),
            (gateway.Management, "/metrics", HttpStatusCode.OK),
            (gateway.Client, "/health", HttpStatusCode.OK),
            (gateway.Management, "/health", HttpStatusCode.OK),
            (gateway.Client, AdminPolicyPath, HttpStatusCode.OK),
            (gateway.Management, AdminPolicyPath, HttpStatusCode.Forbidden),
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

        // What the proxy listener forwarded reached the upstream; nothing from the management listener did.
        Assert.Equal(["/orders", "/metrics", "/health", AdminPolicyPath], gateway.Backend.Requests.Select(r => r.Path));
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

    /// <summary>A requirement that is its own handler (ASP.NET Core runs such ones) and fails with a reason meant for logs.</summary>
    private sealed class FailsWithInternalReason : AuthorizationHandler<FailsWithInternalReason>, IAuthorizationRequirement
    {
        public const string Reason = "internal: directory lookup for tenant failed";

        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, FailsWithInternalReason requirement)
        {
            context.Fail(new AuthorizationFailureReason(this, Reason));
            return Task.CompletedTask;
        }
    }
}

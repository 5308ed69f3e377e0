using System.Net;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

/// <summary>YARP route settings that need a middleware of their own: served, or refused at start-up, never a 500 per request.</summary>
public sealed class RouteSettingsTests
{
    [Fact]
    public async Task Proxy_RouteWithTimeout_ServedWithinItAnd504Beyond()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["ReverseProxy:Routes:open:Timeout"] = "00:00:05");

        using (var quick = await gateway.GetAsync("/orders", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, quick.StatusCode);
        }

        gateway.Backend.Delay = TimeSpan.FromSeconds(30);
        using var slow = await gateway.GetAsync("/orders", gateway.Token());

        Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
        Assert.Equal(2, gateway.Backend.Requests.Count);
    }

    [Theory]
    // YARP itself refuses a named policy that is not registered; these are the values it lets through.
    [InlineData("CorsPolicy", "Default")]
    [InlineData("RateLimiterPolicy", "Default")]
    public async Task Start_RouteWithSettingTheGatewayDoesNotServe_ThrowsNamingRouteAndSetting(string setting, string value)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s[$"ReverseProxy:Routes:open:{setting}"] = value));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("'open'", messages, StringComparison.Ordinal);
        Assert.Contains($"'{setting}'", messages, StringComparison.Ordinal);
    }
}

using System.Net;
using Microsoft.Extensions.Logging.Testing;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

public sealed class ShutdownDrainTests
{
    [Fact]
    public async Task Stop_DrainDelaySet_ReadinessFailsWhileRequestsAreStillServed()
    {
        // A delay far longer than the test needs, ended by cancelling the stop: a slow machine cannot outrun it.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Shutdown:DrainDelay"] = "00:00:25",
            configureBuilder: b => FakeLogs.Enable(b));
        using (var ready = await gateway.GetAsync("/readyz", token: null))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        using var stop = new CancellationTokenSource();
        var stopping = gateway.App.StopAsync(stop.Token);

        Assert.True(await AdminClient.EventuallyAsync(async () =>
        {
            using var ready = await gateway.GetAsync("/readyz", token: null);
            return ready.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(10)), "/readyz did not fail once the gateway was stopping");
        using (var response = await gateway.GetAsync("/orders", gateway.Token()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.False(stopping.IsCompleted, "the gateway stopped before its drain delay ran out");
        var draining = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 5001);
        Assert.Contains("25000 ms", draining.Message, StringComparison.Ordinal);
        await stop.CancelAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Stop_NoDrainDelay_StopsAtOnce()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), configureBuilder: b => FakeLogs.Enable(b));

        // No delay by default: the stop is not held for a load balancer that may not exist. The drain says when it
        // holds the stop (event 5001); the bound only keeps a hung stop from hanging the suite.
        await gateway.App.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 5001);
    }

    [Fact]
    public async Task Start_DrainDelayNotShorterThanShutdownTimeout_ThrowsNamingBoth()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(),
            s => s["Xtac:Shutdown:DrainDelay"] = "00:00:30"));

        Assert.Contains("'Xtac:Shutdown:DrainDelay' (00:00:30) is not shorter than the host's shutdown timeout (00:00:30)",
            ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }
}

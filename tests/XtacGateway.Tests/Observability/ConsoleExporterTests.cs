using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Observability;

/// <summary>Console output is process-wide: these tests run alone, so nothing else writes while they capture it.</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class ConsoleExporterTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConsoleExporter_AskedOrNot_WritesSpansAndMetricsOnlyWhenAsked(bool asked)
    {
        var path = $"/console-{Guid.NewGuid():N}";
        var original = Console.Out;
        using var captured = new StringWriter();
        Console.SetOut(TextWriter.Synchronized(captured));
        try
        {
            // Disposing the gateway disposes its tracer and meter providers, which flush their exporters: the request's
            // span and the metrics' last export are written by the end of this block, if anything writes them.
            await using (var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:ConsoleExporter"] = asked ? "true" : null))
            {
                (await gateway.GetAsync(path, gateway.Token())).Dispose();
            }
        }
        finally
        {
            Console.SetOut(original);
        }

        var output = captured.ToString();
        Assert.Equal(asked, output.Contains(path, StringComparison.Ordinal));
        Assert.Equal(asked, output.Contains("xtac.decisions", StringComparison.Ordinal));
    }
}

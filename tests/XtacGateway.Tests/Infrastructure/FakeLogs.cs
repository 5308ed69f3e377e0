using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace XtacGateway.Tests.Infrastructure;

internal static class FakeLogs
{
    /// <summary>
    /// Collects the gateway's logs from <paramref name="minLevel"/> up (read them with <c>GetFakeLogCollector()</c>),
    /// in place of the harness's quiet filter.
    /// </summary>
    public static void Enable(WebApplicationBuilder builder, LogLevel minLevel = LogLevel.Debug)
    {
        builder.Services.Configure<LoggerFilterOptions>(o =>
        {
            o.Rules.Clear();
            o.MinLevel = minLevel;
        });
        builder.Logging.AddFakeLogging();
    }
}

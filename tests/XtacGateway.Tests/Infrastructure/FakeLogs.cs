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

/// <summary>
/// Completes <see cref="Seen"/> when the gateway logs one event ID, at any level, even before its start-up is over (when
/// its services, and so the fake log collector, are not yet in the test's hands).
/// </summary>
internal sealed class LogEventSignal(int eventId) : ILoggerProvider, ILogger
{
    private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Seen => _seen.Task;

    public void AttachTo(WebApplicationBuilder builder)
    {
        builder.Logging.AddProvider(this);
        builder.Logging.AddFilter<LogEventSignal>(_ => true);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (id.Id == eventId)
        {
            _seen.TrySetResult();
        }
    }

    public void Dispose()
    {
    }
}

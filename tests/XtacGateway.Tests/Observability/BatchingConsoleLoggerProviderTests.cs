using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using XtacGateway.Observability;

namespace XtacGateway.Tests.Observability;

public sealed class BatchingConsoleLoggerProviderTests
{
    [Fact]
    public void Log_SimpleFormatter_WritesWhatTheFrameworkFormatterWrites()
    {
        using var services = ConsoleServices();
        var output = new StringWriter();
        var expected = new StringWriter();
        var formatter = services.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Simple);

        using (var provider = Provider(services, output, new StringWriter()))
        {
            provider.CreateLogger("Xtac.Test").LogInformation(new EventId(2001, "RequestDenied"), "Request denied: {Reason} for {App}", "MfaRequired", "app-1");
        }

        formatter.Write(
            new Microsoft.Extensions.Logging.Abstractions.LogEntry<string>(LogLevel.Information, "Xtac.Test", new EventId(2001, "RequestDenied"), "Request denied: MfaRequired for app-1", null, (s, _) => s),
            null,
            expected);
        Assert.Equal(expected.ToString(), output.ToString());
        Assert.Contains("Request denied: MfaRequired for app-1", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Log_ManyThreads_EveryLineWrittenInEachThreadsOrder()
    {
        using var services = ConsoleServices(o => o.FormatterName = ConsoleFormatterNames.Systemd);
        var output = new StringWriter();
        const int Threads = 8;
        const int PerThread = 5_000;

        using (var provider = Provider(services, output, new StringWriter()))
        {
            var logger = provider.CreateLogger("Xtac.Test");
            await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    logger.LogInformation("line {Thread} {Index}", t, i);
                }
            })));
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Threads * PerThread, lines.Length);
        for (var t = 0; t < Threads; t++)
        {
            var indexes = lines.Where(l => l.Contains($"line {t} ", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.LastIndexOf(' ') + 1)..].Trim())).ToList();
            Assert.Equal(Enumerable.Range(0, PerThread), indexes);
        }
    }

    [Fact]
    public void Log_QueueFullWithWaitMode_WritesEveryLine()
    {
        using var services = ConsoleServices(o =>
        {
            o.FormatterName = ConsoleFormatterNames.Systemd;
            o.MaxQueueLength = 1;
        });
        var output = new StringWriter();

        using (var provider = Provider(services, output, new StringWriter()))
        {
            var logger = provider.CreateLogger("Xtac.Test");
            for (var i = 0; i < 1_000; i++)
            {
                logger.LogWarning("line {Index}", i);
            }
        }

        var indexes = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l[(l.LastIndexOf(' ') + 1)..].Trim()));
        Assert.Equal(Enumerable.Range(0, 1_000), indexes);
    }

    [Fact]
    public void Log_AtOrAboveErrorThreshold_GoesToStandardError()
    {
        using var services = ConsoleServices(o =>
        {
            o.FormatterName = ConsoleFormatterNames.Systemd;
            o.LogToStandardErrorThreshold = LogLevel.Error;
        });
        var output = new StringWriter();
        var error = new StringWriter();

        using (var provider = Provider(services, output, error))
        {
            var logger = provider.CreateLogger("Xtac.Test");
            logger.LogInformation("routine");
            logger.LogError("broken");
        }

        Assert.Contains("routine", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("broken", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("broken", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(1)]
    public void Log_ConsoleWritesFail_NoExceptionAndLaterLinesWritten(int maxQueueLength)
    {
        // The writer thread writes with a long queue, the logging caller itself with a queue of one.
        using var services = ConsoleServices(o =>
        {
            o.FormatterName = ConsoleFormatterNames.Systemd;
            o.MaxQueueLength = maxQueueLength;
        });
        var output = new BrokenThenWorkingWriter(failures: 20);

        using (var provider = Provider(services, output, new StringWriter()))
        {
            var logger = provider.CreateLogger("Xtac.Test");
            for (var i = 0; i < 20; i++)
            {
                logger.LogWarning("lost {Index}", i);
                Thread.Sleep(1);
            }

            SpinWait.SpinUntil(() => output.Failures == 0, TimeSpan.FromSeconds(10));
            logger.LogWarning("after the console came back");
        }

        Assert.Equal(0, output.Failures);
        Assert.Contains("after the console came back", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_ConsoleNeverDrains_Returns()
    {
        using var services = ConsoleServices(o => o.FormatterName = ConsoleFormatterNames.Systemd);
        using var release = new ManualResetEventSlim();
        var output = new BlockingWriter(release);
        var provider = Provider(services, output, new StringWriter(), TimeSpan.FromMilliseconds(200));
        provider.CreateLogger("Xtac.Test").LogWarning("stuck");
        Assert.True(output.Entered.Wait(TimeSpan.FromSeconds(10)), "the writer thread never wrote");

        try
        {
            var dispose = Task.Run(provider.Dispose);
            Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(20))));
            // Returned, not threw: WhenAny hands back a faulted task as readily as a finished one.
            await dispose;

            // A line logged after shutdown waits no longer than shutdown did.
            var late = Task.Run(() => provider.CreateLogger("Xtac.Test").LogWarning("late"));
            Assert.Same(late, await Task.WhenAny(late, Task.Delay(TimeSpan.FromSeconds(20))));
            await late;
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public void UseBatchingConsoleLogger_ConsoleProviderRegistered_ReplacesIt()
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddConsole());

        services.UseBatchingConsoleLogger();

        var providers = services.Where(d => d.ServiceType == typeof(ILoggerProvider)).Select(d => d.ImplementationType).ToList();
        Assert.Contains(typeof(BatchingConsoleLoggerProvider), providers);
        Assert.DoesNotContain(typeof(ConsoleLoggerProvider), providers);
    }

    [Fact]
    public void UseBatchingConsoleLogger_NoConsoleProvider_AddsNothing()
    {
        var services = new ServiceCollection();
        services.AddLogging();

        services.UseBatchingConsoleLogger();

        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(BatchingConsoleLoggerProvider));
    }

    private static ServiceProvider ConsoleServices(Action<ConsoleLoggerOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddConsole().AddSimpleConsole(o => o.ColorBehavior = LoggerColorBehavior.Disabled));
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services.BuildServiceProvider();
    }

    private static BatchingConsoleLoggerProvider Provider(ServiceProvider services, TextWriter output, TextWriter error, TimeSpan? shutdownWait = null)
        => new(services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>(), services.GetServices<ConsoleFormatter>(), output, error, shutdownWait);

    [Fact]
    public void Log_AfterDispose_StillWritten()
    {
        using var services = ConsoleServices(o => o.FormatterName = ConsoleFormatterNames.Systemd);
        var output = new StringWriter();
        var provider = Provider(services, output, new StringWriter());
        var logger = provider.CreateLogger("Xtac.Test");

        provider.Dispose();
        logger.LogWarning("logged during shutdown");

        Assert.Contains("logged during shutdown", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A console whose first writes fail as a closed pipe does, then works.</summary>
    private sealed class BrokenThenWorkingWriter(int failures) : StringWriter
    {
        private int _failures = failures;

        public int Failures => Volatile.Read(ref _failures);

        public override void Write(string? value)
        {
            if (Interlocked.Decrement(ref _failures) >= 0)
            {
                throw new IOException("Broken pipe");
            }

            Interlocked.Exchange(ref _failures, 0);
            base.Write(value);
        }
    }

    /// <summary>A console nobody reads: a write blocks until the test releases it.</summary>
    private sealed class BlockingWriter(ManualResetEventSlim release) : StringWriter
    {
        public ManualResetEventSlim Entered { get; } = new();

        public override void Write(string? value)
        {
            Entered.Set();
            release.Wait();
        }
    }
}

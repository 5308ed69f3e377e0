using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace XtacGateway.Observability;

/// <summary>
/// Console logging with the standard console formatters and options (<c>Logging:Console</c>), written in batches.
/// </summary>
/// <remarks>
/// The gateway logs every denial at Information, so under a flood of denied requests it writes thousands of lines a
/// second. The framework's console provider hands each line to its writer thread under a lock and wakes that thread
/// for it, which a load test on two cores showed costing about a quarter of the gateway's throughput. Here a line is
/// formatted on the caller's thread exactly as the framework would format it, queued without a lock, and written by
/// one thread in batches (one write and flush per batch). Nothing is dropped unless <c>QueueFullMode</c> says so:
/// past <c>MaxQueueLength</c> the caller writes the backlog itself.
/// </remarks>
[ProviderAlias("Console")]
internal sealed class BatchingConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private static readonly TimeSpan s_batchWindow = TimeSpan.FromMilliseconds(10);

    /// <summary>How long shutdown waits for the console: a reader that stopped draining must not hold the process.</summary>
    private static readonly TimeSpan s_defaultShutdownWait = TimeSpan.FromSeconds(5);

    [ThreadStatic]
    private static StringWriter? t_formatBuffer;

    private readonly IOptionsMonitor<ConsoleLoggerOptions> _options;
    private readonly Dictionary<string, ConsoleFormatter> _formatters;
    private readonly ConcurrentDictionary<string, BatchingConsoleLogger> _loggers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Line> _queue = new();
    private readonly TextWriter _out;
    private readonly TextWriter _error;
    private readonly Lock _writeLock = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _writer;
    private readonly TimeSpan _shutdownWait;
    private IExternalScopeProvider? _scopes;
    private int _queued;
    private int _wakePending;
    private long _dropped;
    private int _disposed;

    public BatchingConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters)
        : this(options, formatters, Stdio(Console.OpenStandardOutput()), Stdio(Console.OpenStandardError()))
    {
    }

    internal BatchingConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters, TextWriter output, TextWriter error, TimeSpan? shutdownWait = null)
    {
        _shutdownWait = shutdownWait ?? s_defaultShutdownWait;
        _options = options;
        _formatters = formatters.ToDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);
        _out = output;
        _error = error;
        _writer = new Thread(WriteBatches) { IsBackground = true, Name = "Console log writer" };
        _writer.Start();
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, static (name, provider) => new BatchingConsoleLogger(name, provider), this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    private bool Disposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // One wait for the whole shutdown: the writer may be stuck on a console nobody reads, and then the backlog
        // stays unwritten rather than the shutdown stuck behind it.
        var started = Stopwatch.GetTimestamp();
        _wake.Set();
        _writer.Join(_shutdownWait);
        var left = _shutdownWait - Stopwatch.GetElapsedTime(started);
        WriteAfterDispose(line: null, left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }

    private ConsoleFormatter Formatter
        => _formatters.TryGetValue(_options.CurrentValue.FormatterName ?? ConsoleFormatterNames.Simple, out var formatter)
            ? formatter
            : _formatters[ConsoleFormatterNames.Simple];

    private void Add<TState>(in LogEntry<TState> entry)
    {
        var buffer = t_formatBuffer ??= new StringWriter(new StringBuilder(256));
        var text = buffer.GetStringBuilder();
        Formatter.Write(in entry, _scopes, buffer);
        if (text.Length == 0)
        {
            return;
        }

        var options = _options.CurrentValue;
        var line = new Line(text.ToString(), entry.LogLevel >= options.LogToStandardErrorThreshold);
        text.Clear();

        if (Disposed)
        {
            WriteAfterDispose(line, _shutdownWait);
            return;
        }

        if (Interlocked.Increment(ref _queued) > options.MaxQueueLength)
        {
            Interlocked.Decrement(ref _queued);
            if (options.QueueFullMode == ConsoleLoggerQueueFullMode.DropWrite)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }

            // Back-pressure instead of loss: this caller writes the backlog, then its own line, in order.
            lock (_writeLock)
            {
                WriteQueued();
                Write(line);
                Flush();
            }

            return;
        }

        _queue.Enqueue(line);
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Set();
        }

        // Disposed between the check above and the enqueue: the final drain may have run already, so this caller
        // drains (the enqueue's interlocked operation orders it before this read).
        if (Disposed)
        {
            WriteAfterDispose(line: null, _shutdownWait);
        }
    }

    /// <summary>
    /// Once disposed nobody else drains: the caller writes the backlog and its line, waiting for the console at most
    /// <paramref name="wait"/> (lines are dropped after that, as a stuck console would lose them anyway).
    /// </summary>
    private void WriteAfterDispose(Line? line, TimeSpan wait)
    {
        if (!_writeLock.TryEnter(wait))
        {
            return;
        }

        try
        {
            WriteQueuedLocked();
            if (line is { } own)
            {
                Write(own);
                Flush();
            }
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    private void WriteBatches()
    {
        while (!Disposed)
        {
            _wake.Wait();
            _wake.Reset();
            Volatile.Write(ref _wakePending, 0);
            WriteQueued();

            // Let a burst gather, so the next write carries many lines instead of one.
            if (!Disposed)
            {
                Thread.Sleep(s_batchWindow);
            }
        }
    }

    private void WriteQueued()
    {
        lock (_writeLock)
        {
            WriteQueuedLocked();
        }
    }

    private void WriteQueuedLocked()
    {
        var written = false;
        while (_queue.TryDequeue(out var line))
        {
            Interlocked.Decrement(ref _queued);
            Write(line);
            written = true;
        }

        if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0)
        {
            Write(new Line($"{dropped} log message(s) dropped: the console log queue was full (Logging:Console:QueueFullMode=DropWrite).{Environment.NewLine}", IsError: false));
            written = true;
        }

        if (written)
        {
            Flush();
        }
    }

    // A closed or broken console (a detached process, a reader gone) loses the line, never the writer thread (an
    // exception there would end the process) nor the request that logged it.
    private void Write(Line line)
    {
        try
        {
            (line.IsError ? _error : _out).Write(line.Text);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private void Flush()
    {
        try
        {
            _out.Flush();
            _error.Flush();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private static StreamWriter Stdio(Stream stream) => new(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024) { AutoFlush = false };

    private readonly record struct Line(string Text, bool IsError);

    private sealed class BatchingConsoleLogger(string category, BatchingConsoleLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            => provider._scopes?.Push(state) ?? NullScope.Instance;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Add(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter));
            }
        }
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();

        public void Dispose()
        {
        }
    }
}

internal static class BatchingConsoleLoggingExtensions
{
    /// <summary>
    /// Puts <see cref="BatchingConsoleLoggerProvider"/> in place of the framework's console provider, when one is
    /// registered: same formatters, options and output, written in batches. Without a console provider (a host
    /// that cleared its providers) nothing is added.
    /// </summary>
    public static IServiceCollection UseBatchingConsoleLogger(this IServiceCollection services)
    {
        var console = services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToList();
        if (console.Count == 0)
        {
            return services;
        }

        foreach (var descriptor in console)
        {
            services.Remove(descriptor);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, BatchingConsoleLoggerProvider>());
        return services;
    }
}

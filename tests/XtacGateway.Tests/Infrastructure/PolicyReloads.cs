using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// Observes one gateway's <c>xtac.policy.reloads</c> counter (its meter is scoped to that gateway's
/// <see cref="IMeterFactory"/>), so a test can wait for the file watcher to have looked at a change.
/// </summary>
internal sealed class PolicyReloads : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<string> _results = new();
    private readonly SemaphoreSlim _signal = new(0);

    public PolicyReloads(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "xtac.policy.reloads" && ReferenceEquals(instrument.Meter.Scope, scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "result")
                {
                    _results.Enqueue(tag.Value?.ToString() ?? string.Empty);
                    _signal.Release();
                }
            }
        });
        _listener.Start();
    }

    public IReadOnlyCollection<string> Results => _results;

    /// <summary>Waits until a reload with <paramref name="result"/> (success, invalid, failure) is recorded.</summary>
    public async Task WaitForAsync(string result, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_results.Contains(result))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _signal.WaitAsync(left))
            {
                Assert.Fail($"no '{result}' policy reload within {timeout}; seen: [{string.Join(", ", _results)}]");
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _signal.Dispose();
    }
}

using XtacGateway.Observability;

namespace XtacGateway.Policies;

/// <summary>
/// How a remote policy source (Redis, Graph) is doing: its consecutive failures, the wait they earn before the next
/// attempt, and what the store and the log are told when that changes. One place, so both sources degrade, back off
/// and recover alike. Each failed attempt counts as a <c>failure</c> in <c>xtac.policy.reloads</c>.
/// </summary>
internal sealed class SourceHealth(
    string source, TimeSpan healthyInterval, PolicySnapshotStore store, PolicySourceOptions options, GatewayTelemetry telemetry, TimeProvider time, ILogger logger)
{
    // The background check and on-demand reloads (admin calls) report at the same time: the count, the wait and the
    // state the store is told change together.
    private readonly Lock _lock = new();
    private int _failures;
    private TimeSpan _retryDelay;

    /// <summary>The last failure was a policy the source holds but that does not validate: asking again soon gets it again.</summary>
    private bool _rejected;

    /// <summary>
    /// No attempt before this (UTC), as the source last asked (Graph's Retry-After), whatever failed since: every
    /// instance shares the source's throttling budget, and asking sooner only prolongs the throttling. Cleared by a success.
    /// </summary>
    private DateTimeOffset _notBefore;

    /// <summary>The background loop's current <see cref="WaitAsync"/>, which a failure reported meanwhile ends early.</summary>
    private CancellationTokenSource? _wait;

    /// <summary>
    /// How long to wait before the next attempt: the source's own interval while healthy or after it gave an invalid
    /// policy (which only an edit there mends), else the backoff; and never before the source asked.
    /// </summary>
    public TimeSpan NextDelay()
    {
        lock (_lock)
        {
            return NextDelayLocked();
        }
    }

    private TimeSpan NextDelayLocked()
    {
        var delay = _failures == 0 ? healthyInterval
            : _rejected && healthyInterval > _retryDelay ? healthyInterval
            : _retryDelay;
        var asked = _notBefore - time.GetUtcNow();
        return asked > delay ? asked : delay;
    }

    /// <summary>
    /// The source asked not to be asked again for <paramref name="wait"/> (a throttled Graph's Retry-After), at most
    /// <paramref name="most"/>: a wait of hours would stop every instance confirming its policy for as long.
    /// </summary>
    public void AskedToWait(TimeSpan wait, TimeSpan most)
    {
        var until = time.GetUtcNow() + (wait < most ? wait : most);
        lock (_lock)
        {
            if (until > _notBefore)
            {
                _notBefore = until;
            }
        }
    }

    /// <summary>
    /// Waits until the background loop's next attempt is due (<see cref="NextDelay"/>). False when a failure or a
    /// recovery reported meanwhile (an on-demand attempt) ended the wait: the caller waits again, for the wait that
    /// earns, so a recovered source is found healthy soon rather than a long interval later.
    /// </summary>
    public async Task<bool> WaitAsync(CancellationToken stoppingToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        Volatile.Write(ref _wait, wait);
        try
        {
            await Task.Delay(NextDelay(), time, wait.Token);
            return true;
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            Interlocked.CompareExchange(ref _wait, null, wait);
        }
    }

    /// <summary>
    /// An on-demand attempt (an admin reload, or an admin change re-reading the source), counted and reported as the
    /// background ones are: the source failed, whoever asked. The caller's own cancellation is not a failure.
    /// </summary>
    public async Task ReportAsync(Task attempt, CancellationToken cancellationToken)
    {
        try
        {
            await attempt;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Failed(ex);
            throw;
        }

        Succeeded();
    }

    /// <summary>The source could not be reached at start-up: start degraded, from the last known good policy if there is one.</summary>
    public void FailedAtStart(LastKnownGoodStore lastKnownGood, Guid resourceTenant, Exception exception)
    {
        var retryDelay = Record(exception);
        // Restored first, so that the version logged is the one in force.
        lastKnownGood.RestoreIfEmpty(store, resourceTenant, source);
        PolicySourceLog.SourceUnreachable(logger, source, store.Current?.Version ?? 0, retryDelay.TotalMilliseconds, exception.Message);
    }

    /// <summary>An attempt failed: the policy in force stays, and the next attempt waits longer.</summary>
    public void Failed(Exception exception)
    {
        var retryDelay = Record(exception);
        PolicySourceLog.SourceUnreachable(logger, source, store.Current?.Version ?? 0, retryDelay.TotalMilliseconds, exception.Message);
        EndWait();
    }

    public void Succeeded()
    {
        bool recovered, waitCut;
        lock (_lock)
        {
            recovered = _failures > 0;
            waitCut = recovered || _notBefore != default;
            _failures = 0;
            _notBefore = default;
            store.ReportSource(PolicySourceState.Healthy);
        }

        if (recovered)
        {
            PolicySourceLog.SourceRecovered(logger, source);
        }

        if (waitCut)
        {
            // A wait earned by the failures (or asked for) may run longer than the healthy interval: time it again.
            EndWait();
        }
    }

    private void EndWait()
    {
        try
        {
            Volatile.Read(ref _wait)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That wait has just ended; the next one is timed from now anyway.
        }
    }

    /// <summary>Counts the failure and returns the wait it earns (drawn once, so the wait that is logged is the wait that happens).</summary>
    private TimeSpan Record(Exception exception)
    {
        // A policy the source holds but that does not validate was counted as invalid where it was rejected.
        if (exception is not PolicyRejectedException)
        {
            telemetry.PolicyReloaded("failure");
        }

        lock (_lock)
        {
            _failures++;
            _rejected = exception is PolicyRejectedException;
            _retryDelay = Backoff.Delay(_failures, options.RetryMinDelay, options.RetryMaxDelay);
            store.ReportSource(PolicySourceState.Degraded, exception.Message);
            return NextDelayLocked();
        }
    }
}

/// <summary>The source delivered a policy that does not validate: counted as <c>invalid</c>, not as a failure to read.</summary>
internal sealed class PolicyRejectedException(string message) : Exception(message)
{
    /// <summary>Names what was read, how many errors it has and the first (with its JSON path); every one is in the log.</summary>
    public static PolicyRejectedException For(string what, IReadOnlyList<string> errors)
        => new(errors.Count == 0
            ? $"{what} is invalid. The policy in force is unchanged."
            : $"{what} is invalid, with {errors.Count} error(s) (all in the log); the first: {errors[0]}. The policy in force is unchanged.");
}

/// <summary>Exponential backoff with full jitter between a floor and a ceiling.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(int failures, TimeSpan min, TimeSpan max)
    {
        var exponential = min.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = Math.Min(exponential, max.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Max(min.TotalMilliseconds, capped * (0.5 + (Random.Shared.NextDouble() / 2))));
    }
}

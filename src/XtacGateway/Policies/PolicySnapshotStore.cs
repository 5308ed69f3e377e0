using XtacGateway.Policy.Compilation;

namespace XtacGateway.Policies;

/// <summary>
/// Holds the compiled policy in force. Readers take one volatile read; a change builds a whole new snapshot
/// and swaps it in, so a request never sees half a policy and never waits for a reload.
/// </summary>
internal sealed class PolicySnapshotStore : IDisposable
{
    private const int LargePolicyPartners = 10_000;

    /// <summary>Long enough for the loader to return and drop its buffers, short enough that the memory comes back soon after.</summary>
    private static readonly TimeSpan LargeLoadSettleTime = TimeSpan.FromSeconds(1);

    /// <summary>Older than any freshness bound (<c>Xtac:Policy:MaxAge</c> is at most 30 days), small enough for any clock's ticks.</summary>
    private static readonly TimeSpan MaxRestoredAge = TimeSpan.FromDays(365);

    private readonly TimeProvider _time;
    private readonly ITimer _collectAfterLargeLoad;

    private PolicySnapshot? _current;
    private long _lastVersion;
    private long _confirmedTimestamp;
    private PolicySourceStatus _source;

    public PolicySnapshotStore(TimeProvider time)
    {
        _time = time;
        _source = new PolicySourceStatus(PolicySourceState.Healthy, null, time.GetUtcNow());
        _collectAfterLargeLoad = time.CreateTimer(static _ => ReleaseLoadMemory(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The snapshot in force, or null before the first successful load (requests then fail closed).</summary>
    public PolicySnapshot? Current => Volatile.Read(ref _current);

    /// <summary>
    /// How long ago the source last confirmed the snapshot in force is its newest (loaded or found unchanged). Measured on
    /// the monotonic clock: a wall clock stepped forward (an NTP correction) would fail readiness on every instance at
    /// once, and one stepped back would keep a stale policy ready.
    /// </summary>
    public TimeSpan ConfirmedAgo => _time.GetElapsedTime(Interlocked.Read(ref _confirmedTimestamp));

    /// <summary>How the policy source is doing; a degraded source leaves the last good snapshot in force.</summary>
    public PolicySourceState SourceState => Source.State;

    /// <summary>The source's state, since when it has been so, and why when degraded.</summary>
    public PolicySourceStatus Source => Volatile.Read(ref _source);

    /// <summary>Raised after each swap, with the new snapshot.</summary>
    public event Action<PolicySnapshot>? Swapped;

    /// <summary>The next version number: versions only grow.</summary>
    public long NextVersion() => Interlocked.Increment(ref _lastVersion);

    /// <summary>Raises the version counter to at least <paramref name="version"/> (a version learnt from a shared store).</summary>
    public void ObserveVersion(long version)
    {
        var seen = Interlocked.Read(ref _lastVersion);
        while (version > seen)
        {
            var previous = Interlocked.CompareExchange(ref _lastVersion, version, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>
    /// Puts <paramref name="snapshot"/> in force, confirmed now or, for one restored from disk, <paramref name="confirmedAgo"/>
    /// (when its source last confirmed it).
    /// </summary>
    public void Swap(PolicySnapshot snapshot, TimeSpan confirmedAgo = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ObserveVersion(snapshot.Version);
        // The time first: a reader that sees the new snapshot must not pair it with the time of none (the first swap).
        Interlocked.Exchange(ref _confirmedTimestamp, TimestampAgo(confirmedAgo));
        Volatile.Write(ref _current, snapshot);
        Swapped?.Invoke(snapshot);
        if (snapshot.PartnerCount >= LargePolicyPartners)
        {
            // Not here and now: the loader still holds the document it read (50 MB for 100,000 partners) until it
            // returns. Every large swap re-arms the timer, so a burst of reloads ends in one collection.
            _collectAfterLargeLoad.Change(LargeLoadSettleTime, Timeout.InfiniteTimeSpan);
        }
    }

    public void Confirm() => Interlocked.Exchange(ref _confirmedTimestamp, _time.GetTimestamp());

    /// <summary>The source's state after an attempt; <paramref name="reason"/> says what failed when it is degraded.</summary>
    public void ReportSource(PolicySourceState state, string? reason = null)
    {
        // A commit and the background loop may report at once: each report applies to the status it read, or is redone.
        while (true)
        {
            var current = Source;
            var next = state == PolicySourceState.Healthy ? null : reason ?? current.Reason;
            if (current.State == state && current.Reason == next)
            {
                return;
            }

            var status = new PolicySourceStatus(state, next, current.State == state ? current.Since : _time.GetUtcNow());
            if (Interlocked.CompareExchange(ref _source, status, current) == current)
            {
                return;
            }
        }
    }

    public void Dispose() => _collectAfterLargeLoad.Dispose();

    /// <summary>
    /// The timestamp <paramref name="ago"/> before now. At most a year back: a file time of 1601 (a file gone between
    /// read and stat) would otherwise overflow the subtraction, wrap the age negative and report a stale policy fresh.
    /// </summary>
    private long TimestampAgo(TimeSpan ago)
    {
        var seconds = Math.Clamp(ago.TotalSeconds, 0, MaxRestoredAge.TotalSeconds);
        return _time.GetTimestamp() - (long)(seconds * _time.TimestampFrequency);
    }

    /// <summary>
    /// A large load leaves its transient memory (the document read, parse buffers, the replaced snapshot) committed to
    /// the process; one blocking compacting collection hands it back to the OS instead of carrying it.
    /// </summary>
    private static void ReleaseLoadMemory() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}

/// <summary>A policy source's state, the wall-clock time it became so, and the last failure while degraded.</summary>
internal sealed record PolicySourceStatus(PolicySourceState State, string? Reason, DateTimeOffset Since);

internal enum PolicySourceState
{
    Healthy,
    Degraded,
}

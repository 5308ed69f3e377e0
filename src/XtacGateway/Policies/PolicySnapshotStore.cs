using XtacGateway.Policy.Compilation;

namespace XtacGateway.Policies;

/// <summary>
/// Holds the compiled policy in force. Readers take one volatile read; a change builds a whole new snapshot
/// and swaps it in, so a request never sees half a policy and never waits for a reload.
/// </summary>
internal sealed class PolicySnapshotStore(TimeProvider time)
{
    private const int LargePolicyPartners = 10_000;

    private PolicySnapshot? _current;
    private long _lastVersion;
    private long _confirmedAtTicks;
    private volatile PolicySourceState _sourceState = PolicySourceState.Healthy;

    /// <summary>The snapshot in force, or null before the first successful load (requests then fail closed).</summary>
    public PolicySnapshot? Current => Volatile.Read(ref _current);

    /// <summary>When the source last confirmed the snapshot in force is its newest (loaded or found unchanged).</summary>
    public DateTimeOffset LastConfirmedAt => new(Interlocked.Read(ref _confirmedAtTicks), TimeSpan.Zero);

    /// <summary>How the policy source is doing; a degraded source leaves the last good snapshot in force.</summary>
    public PolicySourceState SourceState => _sourceState;

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

    public void Swap(PolicySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ObserveVersion(snapshot.Version);
        Volatile.Write(ref _current, snapshot);
        Confirm();
        Swapped?.Invoke(snapshot);
        if (snapshot.PartnerCount >= LargePolicyPartners)
        {
            // Loading 100,000 partners leaves ~90 MB of the load's transient memory committed to the process; hand it
            // back to the OS once (one blocking full collection per large load) instead of carrying it.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    public void Confirm() => Interlocked.Exchange(ref _confirmedAtTicks, time.GetUtcNow().UtcTicks);

    public void ReportSource(PolicySourceState state) => _sourceState = state;
}

internal enum PolicySourceState
{
    Healthy,
    Degraded,
}

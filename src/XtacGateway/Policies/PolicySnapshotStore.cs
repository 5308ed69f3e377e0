using XtacGateway.Policy.Compilation;

namespace XtacGateway.Policies;

/// <summary>
/// Holds the compiled policy in force. Readers take one volatile read; a change builds a whole new snapshot
/// and swaps it in, so a request never sees half a policy and never waits for a reload.
/// </summary>
internal sealed class PolicySnapshotStore
{
    private PolicySnapshot? _current;
    private long _lastVersion;

    /// <summary>The snapshot in force, or null before the first successful load (requests then fail closed).</summary>
    public PolicySnapshot? Current => Volatile.Read(ref _current);

    /// <summary>Raised after each swap, with the new snapshot.</summary>
    public event Action<PolicySnapshot>? Swapped;

    /// <summary>The next version number: versions only grow, even across sources.</summary>
    public long NextVersion() => Interlocked.Increment(ref _lastVersion);

    /// <summary>Raises the version counter to at least <paramref name="version"/> (a version learnt from a shared store).</summary>
    public void ObserveVersion(long version)
    {
        var seen = Volatile.Read(ref _lastVersion);
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
        Volatile.Write(ref _current, snapshot);
        Swapped?.Invoke(snapshot);
    }
}

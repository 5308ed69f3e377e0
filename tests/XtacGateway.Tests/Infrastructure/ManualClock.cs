namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// A clock the test moves by hand. The wall clock and the monotonic clock move apart, as they do on a host whose time
/// is stepped (an NTP correction moves the first only).
/// </summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _wall = start;
    private long _elapsedTicks;

    public override DateTimeOffset GetUtcNow() => _wall;

    public override long GetTimestamp() => _elapsedTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Time passes: both clocks move.</summary>
    public void Advance(TimeSpan by)
    {
        _wall += by;
        _elapsedTicks += by.Ticks;
    }

    /// <summary>The wall clock is set forward or back; no time passes.</summary>
    public void StepWallClock(TimeSpan by) => _wall += by;
}

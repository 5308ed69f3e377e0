using System.Numerics;

namespace XtacGateway.Observability;

/// <summary>
/// A fixed set of counts kept once per CPU, so that requests on different cores never write the same cache line;
/// reading sums the stripes. Incrementing is one uncontended atomic add, where an OpenTelemetry counter with tags
/// looks its tag set up on every measurement.
/// </summary>
internal sealed class StripedCounts
{
    private const int LongsPerCacheLine = 8;

    private readonly long[] _cells;
    private readonly int _stride;
    private readonly int _stripeMask;

    public StripedCounts(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var stripes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64));
        // Whole cache lines per stripe plus one line of padding, so neighbouring stripes never share a line.
        _stride = ((length + LongsPerCacheLine - 1) / LongsPerCacheLine * LongsPerCacheLine) + LongsPerCacheLine;
        _stripeMask = stripes - 1;
        _cells = new long[stripes * _stride];
        Length = length;
    }

    public int Length { get; }

    public void Increment(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        Interlocked.Increment(ref _cells[((Thread.GetCurrentProcessorId() & _stripeMask) * _stride) + index]);
    }

    public long Sum(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        long total = 0;
        for (var stripe = 0; stripe <= _stripeMask; stripe++)
        {
            total += Volatile.Read(ref _cells[(stripe * _stride) + index]);
        }

        return total;
    }
}

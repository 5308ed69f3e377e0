using XtacGateway.Observability;

namespace XtacGateway.Tests.Observability;

public sealed class StripedCountsTests
{
    [Fact]
    public async Task Increment_ManyThreads_SumCountsEveryIncrement()
    {
        var counts = new StripedCounts(3);
        const int PerThread = 100_000;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                counts.Increment(t % 2);
            }
        })));

        Assert.Equal(4 * PerThread, counts.Sum(0));
        Assert.Equal(4 * PerThread, counts.Sum(1));
        Assert.Equal(0, counts.Sum(2));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void Increment_IndexOutsideCounts_Throws(int index)
    {
        var counts = new StripedCounts(3);

        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Increment(index));
        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Sum(index));
    }
}

using XtacGateway.Authentication;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Authentication;

/// <summary>Measures the managed heap, so it runs alone: a parallel test's allocations would count as the cache's.</summary>
[Collection(RunsAloneCollection.Name)]
public sealed class VerifiedTokenCacheMemoryTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(150)]
    public async Task Add_RealTokens_BytesCountedCoverWhatTheEntriesKeep(int groups)
    {
        // Xtac:TokenCache:MaxBytes bounds the heap only if each entry is counted at what it keeps alive: the parsed
        // token, its claims and the caller's facts, which grow with the token (groups above all).
        const int Tokens = 1_000;
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var cache = gateway.Service<VerifiedTokenCache>();
        var tokens = Enumerable.Range(0, Tokens)
            .Select(_ => gateway.Token(claims: c =>
            {
                if (groups > 0)
                {
                    c["groups"] = Enumerable.Range(0, groups).Select(_ => Guid.NewGuid().ToString()).ToArray();
                }
            }))
            .ToArray();
        (await gateway.GetAsync("/orders", gateway.Token())).Dispose();
        var entriesBefore = cache.Count;

        foreach (var token in tokens)
        {
            (await gateway.GetAsync("/orders", token)).Dispose();
        }

        Assert.Equal(Tokens, cache.Count - entriesBefore);
        // What the entries keep is what dropping them frees: two heap readings moments apart, so that garbage of earlier
        // tests set free in between (a gateway whose last task ends) cannot land inside the measurement, as it could
        // across the requests.
        var (entries, bytes, heapFull) = (cache.Count, cache.Bytes, SteadyHeap());
        cache.Clear();
        var heapCleared = SteadyHeap();
        GC.KeepAlive(tokens);
        Assert.Equal((0, 0L), (cache.Count, cache.Bytes));
        var kept = (heapFull - heapCleared) / (double)entries;
        var counted = bytes / (double)entries;
        Assert.True(counted >= kept * 0.9 && counted <= kept * 2,
            $"{tokens[0].Length}-character tokens: each entry keeps {kept:F0} bytes and is counted at {counted:F0}");
    }

    /// <summary>A settled heap reading that a second one confirms (within 256 KB), so no late garbage is still going.</summary>
    private static long SteadyHeap()
    {
        var reading = SettledHeap();
        for (var i = 0; i < 5; i++)
        {
            var next = SettledHeap();
            if (Math.Abs(next - reading) < 256 * 1024)
            {
                return next;
            }

            reading = next;
        }

        return reading;
    }

    private static long SettledHeap()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

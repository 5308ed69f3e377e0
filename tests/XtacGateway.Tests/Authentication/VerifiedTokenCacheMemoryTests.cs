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
        const int Rounds = 3;
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var cache = gateway.Service<VerifiedTokenCache>();
        (await gateway.GetAsync("/orders", gateway.Token())).Dispose();
        // Earlier tests' gateways may still be finishing (their last tasks hold them alive): let the heap come to rest.
        SteadyHeap();

        // What the entries keep is what dropping them frees: two heap readings moments apart. Garbage of earlier tests
        // set free between them would still count, so the measurement is made three times and the median taken.
        var rounds = new List<(double Kept, double Counted)>();
        for (var round = 0; round < Rounds; round++)
        {
            var tokens = Enumerable.Range(0, Tokens)
                .Select(_ => gateway.Token(claims: c =>
                {
                    if (groups > 0)
                    {
                        c["groups"] = Enumerable.Range(0, groups).Select(_ => Guid.NewGuid().ToString()).ToArray();
                    }
                }))
                .ToArray();
            var entriesBefore = cache.Count;
            foreach (var token in tokens)
            {
                (await gateway.GetAsync("/orders", token)).Dispose();
            }

            Assert.Equal(Tokens, cache.Count - entriesBefore);
            var (entries, bytes, heapFull) = (cache.Count, cache.Bytes, SteadyHeap());
            cache.Clear();
            var heapCleared = SteadyHeap();
            GC.KeepAlive(tokens);
            Assert.Equal((0, 0L), (cache.Count, cache.Bytes));
            rounds.Add(((heapFull - heapCleared) / (double)entries, bytes / (double)entries));
        }

        var (kept, counted) = rounds.OrderBy(r => r.Counted / r.Kept).ElementAt(Rounds / 2);
        Assert.True(counted >= kept * 0.9 && counted <= kept * 2,
            $"{groups} groups: each entry keeps {kept:F0} bytes and is counted at {counted:F0} (the median of "
            + string.Join(", ", rounds.Select(r => $"{r.Kept:F0} kept / {r.Counted:F0} counted")) + ")");
    }

    /// <summary>A settled heap reading that the next one confirms (within 256 KB): no late garbage still going.</summary>
    private static long SteadyHeap()
    {
        var reading = SettledHeap();
        for (var i = 0; i < 10; i++)
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

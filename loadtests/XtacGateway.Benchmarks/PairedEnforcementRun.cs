using System.Diagnostics;
using System.Globalization;

namespace XtacGateway.Benchmarks;

/// <summary>
/// The enforcement benchmark's variants measured in rounds, in a fresh random order each round, in one process.
/// </summary>
/// <remarks>
/// On a shared 2-core virtual machine the speed of the whole machine changes from one second to the next (the same
/// loop can take 1.7x longer for a while). BenchmarkDotNet measures one variant after another, so a slow spell
/// lands on one variant and shows up as a difference between variants. Here every round measures every variant
/// close together in time, and the ratio to the baseline is taken within each round before taking the median,
/// so a slow spell moves both sides of a ratio alike.
/// </remarks>
internal static class PairedEnforcementRun
{
    private const int WarmUpRounds = 10;

    public static void Run(int rounds)
    {
        var random = new Random(20261127);
        Console.WriteLine($"Paired enforcement run: {rounds} rounds of {EnforcementBenchmarks.BatchSize} requests per variant, started {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        Console.WriteLine();
        Console.WriteLine("| Caller | Variant | Median ns/request | Q1 | Q3 | Median of per-round ratios to off | Q1-Q3 of ratios |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---|");
        foreach (var caller in new[] { "allowed", "mfa-required" })
        {
            var variants = EnforcementBenchmarks.Variants;
            var times = variants.Select(_ => new List<double>()).ToArray();
            var order = Enumerable.Range(0, variants.Length).ToArray();
            // Unrecorded rounds first: until the JIT has finished tiering the step up, the first rounds are slower.
            for (var round = -WarmUpRounds; round < rounds; round++)
            {
                random.Shuffle(order);
                foreach (var variant in order)
                {
                    var nanoseconds = MeasureOnce(caller, variants[variant].Setup);
                    if (round >= 0)
                    {
                        times[variant].Add(nanoseconds);
                    }
                }
            }

            for (var variant = 0; variant < variants.Length; variant++)
            {
                var ratios = times[variant].Zip(times[0], (t, off) => t / off).ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {caller} | {variants[variant].Name} | {Quantile(times[variant], 0.5):F1} | {Quantile(times[variant], 0.25):F1} | {Quantile(times[variant], 0.75):F1} | {Quantile(ratios, 0.5):F3} | {Quantile(ratios, 0.25):F3}-{Quantile(ratios, 0.75):F3} |"));
            }
        }
    }

    private static double MeasureOnce(string caller, Action<EnforcementBenchmarks> setup)
    {
        var benchmark = new EnforcementBenchmarks { Caller = caller };
        setup(benchmark);
        try
        {
            // One unmeasured batch brings this variant's objects into the caches, as BenchmarkDotNet's warm-up would.
            benchmark.CreateRequestActivities();
            benchmark.RunBatch();
            benchmark.CreateRequestActivities();
            var start = Stopwatch.GetTimestamp();
            benchmark.RunBatch();
            return Stopwatch.GetElapsedTime(start).TotalNanoseconds / EnforcementBenchmarks.BatchSize;
        }
        finally
        {
            benchmark.Cleanup();
        }
    }

    private static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Round(q * (sorted.Length - 1))];
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XtacGateway.LoadTests;

/// <summary>Turns the per-scenario files of one run into the JSON result, the printed table and latest.md.</summary>
internal static class Report
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static int Write(string[] args)
    {
        var work = Options.Required(args, "work");
        var scenarios = Directory.GetFiles(work, "scenario-*.json")
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject())
            .OrderBy(s => (int)s["scenario"]!)
            .ToList();

        JsonObject? S(int n) => scenarios.FirstOrDefault(s => (int)s["scenario"]! == n);
        double Rps(JsonObject? s) => s is null ? double.NaN : (double)s["wrk"]!["rps"]!;
        double P99Ms(JsonObject? s) => s is null ? double.NaN : (double)s["wrk"]!["latency_us"]!["p99"]! / 1000;
        double RssMb(JsonObject? s) => s is null ? double.NaN : (double)s["rss_peak_kb"]! / 1024;

        foreach (var s in scenarios)
        {
            s["wrk"] = Aggregate(s["rounds"]!.AsArray());
            s["checks"] = Check(s);
        }

        // Each round measures every scenario within seconds of the others, so a round's ratio is spared most of this
        // machine's slow spells; the spread of those ratios shows how far one run's overall ratio can be trusted.
        double[] RoundRatios(int a, int b)
            => S(a) is { } sa && S(b) is { } sb
                ? [.. sa["wrk"]!["rps_per_round"]!.AsArray().Zip(sb["wrk"]!["rps_per_round"]!.AsArray(), (x, y) => (double)x! / (double)y!)]
                : [];
        var perRound = new (string Key, double[] Values)[] { ("rps_4_over_2", RoundRatios(4, 2)), ("rps_4_over_3", RoundRatios(4, 3)), ("rps_6_over_4", RoundRatios(6, 4)) };

        var r42 = Rps(S(4)) / Rps(S(2));
        var r43 = Rps(S(4)) / Rps(S(3));
        var p99Delta = P99Ms(S(4)) - P99Ms(S(2));
        var r64 = Rps(S(6)) / Rps(S(4));
        var rss6 = RssMb(S(6));
        // A ratio counts only between clean scenarios: fast 401s or 502s would otherwise pass for speed.
        bool Clean(params int[] numbers) => numbers.All(n => S(n) is { } s && (long)s["checks"]!["transport_errors"]! == 0 && (long)s["checks"]!["unexpected"]! == 0);

        // Scenario 5 means something only if the gateway really reloaded while it was loaded: both policy files decide
        // alike, so a watcher that never reloaded would pass the status checks.
        bool Reloaded(JsonObject? s) => s?["policy_rewrites"] is { } rewrites && s["policy_reloads"] is { } reloads && (long)reloads! >= 0.9 * (long)rewrites!;

        var targets = new JsonArray
        {
            Target("4/2 requests/s >= 0.90", r42, r42 >= 0.90 && Clean(2, 4), perRound[0].Values),
            Target("4/3 requests/s >= 1.8", r43, r43 >= 1.8 && Clean(3, 4), perRound[1].Values),
            Target("p99(4) - p99(2) <= 1 ms", p99Delta, p99Delta <= 1.0 && Clean(2, 4)),
            Target("6/4 requests/s >= 0.95", r64, r64 >= 0.95 && Clean(4, 6), perRound[2].Values),
            Target("peak RSS(6) < 300 MB", rss6, rss6 < 300 && Clean(6)),
            Target("scenario 5: zero transport errors and zero unexpected statuses, >= 90% of rewrites reloaded", double.NaN,
                Clean(5) && Reloaded(S(5))),
        };

        var result = new JsonObject
        {
            ["date"] = Options.Get(args, "date"),
            ["mode"] = Options.Get(args, "mode"),
            ["machine"] = Options.Get(args, "machine"),
            ["dotnet"] = Options.Get(args, "dotnet"),
            ["source"] = Options.Get(args, "source"),
            ["load_average_before"] = Options.Get(args, "load-before"),
            ["load_average_after"] = Options.Get(args, "load-after"),
            ["wrk"] = new JsonObject
            {
                ["threads"] = int.Parse(Options.Required(args, "threads"), s_inv),
                ["connections"] = int.Parse(Options.Required(args, "connections"), s_inv),
                ["duration_s"] = int.Parse(Options.Required(args, "duration"), s_inv),
                ["rounds"] = int.Parse(Options.Required(args, "rounds"), s_inv),
            },
            ["ratios"] = new JsonObject { ["rps_4_over_2"] = Round(r42), ["rps_4_over_3"] = Round(r43), ["p99_4_minus_2_ms"] = Round(p99Delta), ["rps_6_over_4"] = Round(r64) },
            ["ratios_per_round"] = new JsonObject(perRound.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)new JsonArray([.. r.Values.Select(v => (JsonNode)Round(v))])))),
            ["targets"] = targets,
            ["scenarios"] = new JsonArray([.. scenarios.Select(s => (JsonNode)s.DeepClone())]),
        };

        File.WriteAllText(Options.Required(args, "out"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run: {result["date"]}, {result["mode"]} mode; machine: {result["machine"]}; .NET SDK {result["dotnet"]}; gateway built from {result["source"]}.");
        md.AppendLine(CultureInfo.InvariantCulture, $"wrk: {result["wrk"]!["threads"]} threads, {result["wrk"]!["connections"]} connections, {result["wrk"]!["rounds"]} interleaved rounds of {result["wrk"]!["duration_s"]} s per scenario after a warm-up (scenario 5 on its own afterwards), everything on 127.0.0.1 of the same machine. Requests/s is over all rounds; p50/p99 are the median of the rounds' values, max the largest. Load average (1/5/15 min) before: {result["load_average_before"]}, after: {result["load_average_after"]}.");
        md.AppendLine();
        md.AppendLine("| # | Scenario | Requests/s | p50 ms | p99 ms | max ms | Statuses | 403 reasons | Transport errors | Unexpected | Peak RSS MB | GC pauses (gen0/1/2) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---|");
        foreach (var s in scenarios)
        {
            var w = s["wrk"]!;
            var lat = w["latency_us"]!;
            var name = (string)s["name"]!;
            if (s["policy_reloads"] is { } reloads)
            {
                name += $" ({s["policy_rewrites"]} rewrites, {reloads} reloads during the run)";
            }

            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {s["scenario"]} | {name} | {(double)w["rps"]!:N0} | {(double)lat["p50"]! / 1000:0.00} | {(double)lat["p99"]! / 1000:0.00} | {(double)lat["max"]! / 1000:0.0} | {Map(w["statuses"])} | {Map(w["reasons"])} | {s["checks"]!["transport_errors"]} | {s["checks"]!["unexpected"]} | {RssMb(s):0} | {GcPauses(s)} |");
        }

        md.AppendLine();
        md.AppendLine("| Target (issue 6) | Measured | Met | Per round: median (lowest-highest) |");
        md.AppendLine("|---|---:|---|---|");
        foreach (var t in targets)
        {
            var rounds = t!["per_round"] is JsonObject r ? FormattableString.Invariant($"{r["median"]} ({r["min"]}-{r["max"]})") : "";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {t["target"]} | {t["measured"]?.ToString() ?? "-"} | {((bool)t["met"]! ? "yes" : "**no**")} | {rounds} |");
        }

        File.WriteAllText(Options.Required(args, "markdown"), md.ToString());
        Console.WriteLine();
        Console.Write(md.ToString());
        return 0;
    }

    /// <summary>
    /// A scenario's rounds as one result: requests and time add up (so requests/s is the rate over all rounds),
    /// errors, statuses and reasons add up, p50/p90/p99 are the median of the rounds' values, max the largest.
    /// </summary>
    private static JsonObject Aggregate(JsonArray rounds)
    {
        var all = rounds.Select(r => r!.AsObject()).ToList();
        double Sum(Func<JsonObject, double> value) => all.Sum(value);
        double PercentileMedian(string percentile) => Median(all.Select(r => (double)r["latency_us"]![percentile]!));

        JsonObject Add(string name)
        {
            var total = new JsonObject();
            foreach (var (key, value) in all.SelectMany(r => Counts(r[name])))
            {
                total[key] = ((long?)total[key] ?? 0) + value;
            }

            return total;
        }

        var requests = Sum(r => (double)r["requests"]!);
        var microseconds = Sum(r => (double)r["duration_us"]!);
        return new JsonObject
        {
            ["rounds"] = all.Count,
            ["requests"] = (long)requests,
            ["duration_us"] = (long)microseconds,
            ["rps"] = Math.Round(requests / (microseconds / 1e6), 1),
            ["rps_per_round"] = new JsonArray([.. all.Select(r => (JsonNode)(double)r["rps"]!)]),
            ["latency_us"] = new JsonObject
            {
                ["mean"] = Math.Round(Sum(r => (double)r["latency_us"]!["mean"]! * (double)r["requests"]!) / requests, 1),
                ["p50"] = PercentileMedian("p50"),
                ["p90"] = PercentileMedian("p90"),
                ["p99"] = PercentileMedian("p99"),
                ["max"] = all.Max(r => (double)r["latency_us"]!["max"]!),
            },
            ["errors"] = Add("errors"),
            ["statuses"] = Add("statuses"),
            ["reasons"] = Add("reasons"),
        };
    }

    /// <summary>Transport errors, and answers no scenario should give: anything but 200 in 1-3; in 4-6 anything but 200
    /// and 403 with the two expected reasons, or a mix more than two points away from 70/20/10.</summary>
    private static JsonObject Check(JsonObject s)
    {
        var n = (int)s["scenario"]!;
        var w = s["wrk"]!;
        var errors = w["errors"]!;
        var transport = (long)errors["connect"]! + (long)errors["read"]! + (long)errors["write"]! + (long)errors["timeout"]!;
        var statuses = Counts(w["statuses"]);
        var reasons = Counts(w["reasons"]);
        var total = statuses.Values.Sum();
        long unexpected;
        var notes = new JsonArray();
        if (n <= 3)
        {
            unexpected = total - statuses.GetValueOrDefault("200");
        }
        else
        {
            unexpected = total - statuses.GetValueOrDefault("200") - statuses.GetValueOrDefault("403");
            unexpected += reasons.Where(r => r.Key is not ("InboundPolicyBlocked" or "MfaRequired")).Sum(r => r.Value);
            foreach (var (label, count, share) in new[]
                     {
                         ("allowed (200)", statuses.GetValueOrDefault("200"), 0.70),
                         ("InboundPolicyBlocked", reasons.GetValueOrDefault("InboundPolicyBlocked"), 0.20),
                         ("MfaRequired", reasons.GetValueOrDefault("MfaRequired"), 0.10),
                     })
            {
                var actual = total == 0 ? 0 : (double)count / total;
                if (Math.Abs(actual - share) > 0.02)
                {
                    notes.Add($"{label} is {actual:P1} of answers, expected {share:P0}");
                    unexpected += 1;
                }
            }
        }

        return new JsonObject { ["transport_errors"] = transport, ["unexpected"] = unexpected, ["notes"] = notes };
    }

    private static Dictionary<string, long> Counts(JsonNode? node)
        => node is JsonObject o ? o.ToDictionary(p => p.Key, p => (long)p.Value!) : [];

    /// <summary>
    /// A process's stop-the-world GC time over the measured rounds, as a share of the time it was loaded (its rounds' wrk
    /// time), with the collections per generation; "-" where it was not read (the backend).
    /// </summary>
    private static string GcPauses(JsonObject s)
    {
        if (s["gc"] is not JsonObject gc)
        {
            return "-";
        }

        var pauseMs = (double)gc["pause_ms"]!;
        var loadedMs = (long)s["wrk"]!["duration_us"]! / 1000.0;
        return FormattableString.Invariant($"{pauseMs:0} ms, {pauseMs / loadedMs:P2} of loaded time ({gc["gen0"]}/{gc["gen1"]}/{gc["gen2"]})");
    }

    private static string Map(JsonNode? node)
        => node is JsonObject o && o.Count > 0 ? string.Join(", ", o.Select(p => $"{p.Key}: {(long)p.Value!:N0}")) : "-";

    private static double Round(double value) => double.IsFinite(value) ? Math.Round(value, 3) : 0;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static JsonObject Target(string target, double measured, bool met, double[]? perRound = null)
    {
        var result = new JsonObject
        {
            ["target"] = target,
            ["measured"] = double.IsNaN(measured) ? null : Math.Round(measured, 3),
            ["met"] = met,
        };
        if (perRound is { Length: > 0 })
        {
            result["per_round"] = new JsonObject { ["median"] = Round(Median(perRound)), ["min"] = Round(perRound.Min()), ["max"] = Round(perRound.Max()) };
        }

        return result;
    }
}

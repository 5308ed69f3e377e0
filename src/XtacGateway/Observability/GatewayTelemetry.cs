using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using XtacGateway.Policies;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Observability;

/// <summary>The gateway's one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named <c>XtacGateway</c>.</summary>
internal sealed class GatewayTelemetry
{
    public const string Name = "XtacGateway";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _decisionDuration;
    private readonly Counter<long> _reloads;
    private readonly Counter<long> _tokenCacheLookups;
    private readonly bool _tenantDimension;

    public GatewayTelemetry(IMeterFactory meterFactory, PolicySnapshotStore store, TimeProvider time, IOptions<TelemetryOptions> options)
    {
        _tenantDimension = options.Value.TenantDimension;
        var meter = meterFactory.Create(Name);
        _decisions = meter.CreateCounter<long>("xtac.decisions", "{decision}", "Access decisions, by decision, reason, app and settings source.");
        _decisionDuration = meter.CreateHistogram<double>("xtac.decision.duration", "s", "Time the enforcement step took to decide.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.01] });
        _reloads = meter.CreateCounter<long>("xtac.policy.reloads", "{reload}", "Policy loads, by result.");
        _tokenCacheLookups = meter.CreateCounter<long>("xtac.token_cache.lookups", "{lookup}", "Verified-token cache lookups, by result (hit or miss).");
        meter.CreateObservableGauge("xtac.policy.version", () => store.Current?.Version ?? 0, "{version}", "Version of the policy snapshot in force.");
        meter.CreateObservableGauge("xtac.policy.partners", () => store.Current?.PartnerCount ?? 0, "{partner}", "Partner configurations in the policy in force.");
        meter.CreateObservableGauge("xtac.policy.age", () => store.Current is { } s ? (time.GetUtcNow() - s.LoadedAt).TotalSeconds : double.NaN, "s", "Time since the policy in force was loaded.");
    }

    public bool DecisionsEnabled => _decisions.Enabled || _decisionDuration.Enabled;

    public void RecordDecision(in Decision decision, string appTag, double seconds)
    {
        var tags = new TagList
        {
            { "xtac.decision", decision.Verdict },
            { "xtac.reason", decision.ReasonName },
            { "xtac.app", appTag },
            { "xtac.settings_source", decision.SourceName },
        };

        if (_tenantDimension)
        {
            tags.Add("xtac.home_tenant", decision.HomeTenantId is { } home ? TenantTag(home) : "none");
        }

        _decisions.Add(1, tags);

        // Latency is read per decision, not per reason and app: one tag keeps the histogram's lookup cheap.
        _decisionDuration.Record(seconds, new KeyValuePair<string, object?>("xtac.decision", decision.Verdict));
    }

    public void PolicyReloaded(string result) => _reloads.Add(1, new KeyValuePair<string, object?>("result", result));

    public void TokenCacheLookup(bool hit) => _tokenCacheLookups.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    private static string TenantTag(Guid tenant) => tenant.ToString();
}

internal sealed class TelemetryOptions
{
    public const string Section = "Xtac:Telemetry";

    /// <summary>Tag decisions with the caller's home tenant: useful, and one series per partner, so off by default.</summary>
    public bool TenantDimension { get; set; }

    /// <summary>Write user object IDs in logs as they are, instead of as a keyed hash.</summary>
    public bool LogUserObjectIds { get; set; }

    /// <summary>The key for hashing user object IDs in logs; a random per-process key when unset.</summary>
    public string? UserIdHashKey { get; set; }

    /// <summary>Record spans. Unset means "when an exporter is configured" (OTLP or console).</summary>
    public bool? Tracing { get; set; }

    /// <summary>Also write metrics and traces to the console.</summary>
    public bool ConsoleExporter { get; set; }
}

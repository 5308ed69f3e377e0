using System.Buffers.Binary;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using XtacGateway.Enforcement;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Observability;

/// <summary>The gateway's one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named <c>XtacGateway</c>.</summary>
internal sealed class GatewayTelemetry
{
    public const string Name = "XtacGateway";

    public static readonly ActivitySource ActivitySource = new(Name);

    private const string PolicyLoadName = "xtac.policy.load";

    private static readonly KeyValuePair<string, object?> s_answeredByGateway = new("xtac.answered_by", "gateway");

    private static readonly int s_reasonCount = Enum.GetValues<DecisionReason>().Length;
    private static readonly int s_sourceCount = Enum.GetValues<SettingsSource>().Length;
    private static readonly Dictionary<string, int> s_appSlots = new(StringComparer.Ordinal);
    private static readonly KeyValuePair<string, object?>[] s_hit = [new("result", "hit")];
    private static readonly KeyValuePair<string, object?>[] s_miss = [new("result", "miss")];

    // Without the tenant dimension the decision tags are a small fixed set (app x reason x source), so decisions
    // are counted by index and read when exported; with it, partners are unbounded and a tagged counter is used.
    private readonly ObservableCounter<long>? _indexedDecisions;
    private readonly Counter<long>? _tenantDecisions;
    private readonly Histogram<double> _decisionDuration;
    private readonly Counter<long> _reloads;
    private readonly ObservableCounter<long> _tokenCacheLookups;
    private readonly StripedCounts _tokenCacheCounts = new(2);
    private readonly Lock _appsLock = new();
    private readonly int _durationSampleInterval;
    private readonly PolicySnapshotStore _store;
    private AppDecisions?[] _apps = [];
    private BoxedVersion _versionTag = new(0);

    public GatewayTelemetry(IMeterFactory meterFactory, PolicySnapshotStore store, IOptions<TelemetryOptions> options)
    {
        _store = store;
        var meter = meterFactory.Create(Name);
        _durationSampleInterval = options.Value.DurationSampleInterval;
        const string decisionsDescription = "Access decisions, by decision, reason, app and settings source.";
        if (options.Value.TenantDimension)
        {
            _tenantDecisions = meter.CreateCounter<long>("xtac.decisions", "{decision}", decisionsDescription);
        }
        else
        {
            _indexedDecisions = meter.CreateObservableCounter("xtac.decisions", ObserveDecisions, "{decision}", decisionsDescription);
        }

        _decisionDuration = meter.CreateHistogram<double>("xtac.decision.duration", "s", "Time the enforcement step took to decide.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.000_000_025, 0.000_000_05, 0.000_000_1, 0.000_000_25, 0.000_000_5, 0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.01] });
        _reloads = meter.CreateCounter<long>("xtac.policy.reloads", "{reload}", "Policy loads, by result.");

        _tokenCacheLookups = meter.CreateObservableCounter("xtac.token_cache.lookups", ObserveTokenCache, "{lookup}", "Verified-token cache lookups, by result (hit or miss).");
        // No policy, no value: a 0 would draw a starting instance as version drift, and NaN never crosses an alert's bound.
        IEnumerable<Measurement<T>> OfPolicy<T>(Func<PolicySnapshot, T> read) where T : struct
            => store.Current is { } snapshot ? [new(read(snapshot))] : [];
        meter.CreateObservableGauge("xtac.policy.version", () => OfPolicy(s => s.Version), "{version}", "Version of the policy snapshot in force.");
        meter.CreateObservableGauge("xtac.policy.fingerprint", () => OfPolicy(s => Fingerprint(s.ETag)), "{fingerprint}",
            "The content hash of the policy in force (its ETag's first 48 bits): equal on instances that hold the same document, whatever their version numbers.");
        meter.CreateObservableGauge("xtac.policy.partners", () => OfPolicy(s => s.PartnerCount), "{partner}", "Partner configurations in the policy in force.");
        // Since the source last confirmed the policy, as /readyz measures it against Xtac:Policy:MaxAge: an unchanged
        // policy is fresh while its source confirms it.
        meter.CreateObservableGauge("xtac.policy.age", () => OfPolicy(_ => store.ConfirmedAgo.TotalSeconds),
            "s", "Time since the policy source last confirmed the policy in force (loaded it or found it unchanged).");
    }

    /// <summary>
    /// Tags the request's <c>http.server.request.duration</c> as answered by the gateway itself (a challenge, a denial,
    /// a refused path), so proxy latency can leave out answers that never reached an upstream. Called on those paths
    /// only: an allowed request pays nothing for it.
    /// </summary>
    public static void MarkAnsweredByGateway(HttpContext context)
        => context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMetricsTagsFeature>()?.Tags.Add(s_answeredByGateway);

    /// <summary>
    /// A small process-wide number for an app tag, taken once per route, by which the app's decision counts are
    /// found without a lookup. Apps come from route configuration, so the numbers stay few.
    /// </summary>
    public static int AppSlot(string appTag)
    {
        lock (s_appSlots)
        {
            if (!s_appSlots.TryGetValue(appTag, out var slot))
            {
                s_appSlots[appTag] = slot = s_appSlots.Count;
            }

            return slot;
        }
    }

    [ThreadStatic]
    private static int t_decisionsSinceTimed;

    /// <summary>Whether the duration histogram is listened to at all.</summary>
    public bool DecisionDurationEnabled => _decisionDuration.Enabled;

    /// <summary>
    /// A timestamp when this decision is to be timed, else zero. One decision in
    /// <see cref="TelemetryOptions.DurationSampleInterval"/> is timed: two clock reads and a histogram measurement
    /// cost more than the decision itself, and latency quantiles need a steady sample, not every decision.
    /// </summary>
    public long StartDecisionTiming()
    {
        if (!_decisionDuration.Enabled || ++t_decisionsSinceTimed < _durationSampleInterval)
        {
            return 0;
        }

        t_decisionsSinceTimed = 0;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Counts a decision and, when <paramref name="startTimestamp"/> is not zero, records how long it took.</summary>
    public void RecordDecision(in Decision decision, int appSlot, string appTag, long startTimestamp)
    {
        // Read before counting: the histogram times the decision, not the bookkeeping after it.
        var elapsed = startTimestamp == 0 ? default : Stopwatch.GetElapsedTime(startTimestamp);
        if (_indexedDecisions is { Enabled: true })
        {
            DecisionsOf(appSlot, appTag).Counts.Increment(Cell(decision.Reason, decision.Source));
        }
        else if (_tenantDecisions is { Enabled: true } counter)
        {
            counter.Add(1, new TagList
            {
                { "xtac.decision", decision.Verdict },
                { "xtac.reason", decision.ReasonName },
                { "xtac.app", appTag },
                { "xtac.settings_source", decision.SourceName },
                { "xtac.home_tenant", decision.HomeTenantId is { } home ? TenantTag(home) : "none" },
            });
        }

        if (startTimestamp != 0)
        {
            // No tags: OpenTelemetry keeps an untagged series without a tag-set lookup.
            _decisionDuration.Record(elapsed.TotalSeconds);
        }
    }

    /// <summary>
    /// Reports every decision the routes in force can give (<see cref="PolicySnapshot.PossibleDecisions"/> of each
    /// route's app) from zero, before any is made, and no other at zero: a Prometheus series that first appears at one
    /// hides that decision from <c>rate</c> and <c>increase</c>, so an alert on the first denial of its kind would never
    /// fire. Counts already made stay reported whatever the routes. With the tenant dimension on, series wait for their
    /// tenant's first decision.
    /// </summary>
    public void ReportFromZero(IEnumerable<RouteRule> routesInForce)
    {
        if (_indexedDecisions is null)
        {
            return;
        }

        var cellsByApp = new Dictionary<int, (string Tag, long Cells)>();
        foreach (var rule in routesInForce)
        {
            if (rule.App is not { } app)
            {
                continue;
            }

            var cells = cellsByApp.GetValueOrDefault(rule.AppSlot).Cells;
            foreach (var (reason, source) in PolicySnapshot.PossibleDecisions(app))
            {
                cells |= 1L << Cell(reason, source);
            }

            cellsByApp[rule.AppSlot] = (rule.AppTag, cells);
        }

        foreach (var (slot, (tag, cells)) in cellsByApp)
        {
            DecisionsOf(slot, tag).ReportFromZero(cells);
        }

        var apps = Volatile.Read(ref _apps);
        for (var slot = 0; slot < apps.Length; slot++)
        {
            if (apps[slot] is { } gone && !cellsByApp.ContainsKey(slot))
            {
                gone.ReportFromZero(0);
            }
        }
    }

    /// <summary>The policy version as a span attribute value, boxed once per version rather than once per request.</summary>
    public object VersionTag(long version)
    {
        var tag = Volatile.Read(ref _versionTag);
        if (tag.Version != version)
        {
            Volatile.Write(ref _versionTag, tag = new BoxedVersion(version));
        }

        return tag.Boxed;
    }

    /// <summary>
    /// A number that is the same wherever the same document is in force. Version numbers cannot show that: the file and
    /// Graph sources number the policies each process loads, so two instances can hold one document under different
    /// versions, or two documents under one. 48 bits, so Prometheus's doubles hold it exactly.
    /// </summary>
    internal static long Fingerprint(string etag)
    {
        var tag = etag.AsSpan().Trim('"');
        if (tag.Length >= 12 && long.TryParse(tag[..12], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var prefix))
        {
            return prefix;
        }

        // Not an ETag the gateway made (a hand-edited Redis pointer, say): hashed, so equal tags still give equal numbers.
        return BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(etag))) >>> 16;
    }

    public void PolicyReloaded(string result)
    {
        _reloads.Add(1, new KeyValuePair<string, object?>("result", result));
        if (PolicyLoadEnded(result) is { } load && result == "success" && _store.Current is { } snapshot)
        {
            load.SetTag("xtac.policy.version", snapshot.Version);
        }
    }

    /// <summary>
    /// Tags the current load span with its result, without counting a reload: for a load that fails the way the one
    /// before it did (a file still unreadable), which is counted once, as the source becomes so.
    /// </summary>
    public static Activity? PolicyLoadEnded(string result)
    {
        if (CurrentPolicyLoad() is not { } load)
        {
            return null;
        }

        load.SetTag("xtac.policy.result", result);
        if (result is not ("success" or "unchanged"))
        {
            load.SetStatus(ActivityStatusCode.Error, result);
        }

        return load;
    }

    /// <summary>
    /// Runs one load of the policy from its source (a Graph pull, a changed file, a new Redis document) in an
    /// <c>xtac.policy.load</c> span, tagged with the source and, through <see cref="PolicyReloaded"/>, the result and the
    /// version it put in force. Off the request path: it shows how long loads take and why one failed, with a Graph
    /// pull's HTTP requests nested under it.
    /// </summary>
    public static async Task<T> InPolicyLoadAsync<T>(string source, Func<Task<T>> load)
    {
        using var activity = ActivitySource.StartActivity(PolicyLoadName)?.SetTag("xtac.policy.source", source);
        try
        {
            return await load();
        }
        catch (Exception ex) when (activity is not null)
        {
            PolicyLoadFailed(activity, ex);
            throw;
        }
    }

    /// <summary>
    /// Marks a load span failed by what escaped the load (a source unreachable, a pull timed out), as a <c>failure</c>
    /// unless the load already said why (an <c>invalid</c> policy). A load cancelled by the gateway stopping is no failure.
    /// </summary>
    private static void PolicyLoadFailed(Activity load, Exception exception)
    {
        // HttpClient's own timeout is a cancellation too, but one wrapping a TimeoutException: that one is a failure.
        if (exception is OperationCanceledException { InnerException: not TimeoutException })
        {
            return;
        }

        if (load.GetTagItem("xtac.policy.result") is null)
        {
            load.SetTag("xtac.policy.result", "failure");
        }

        load.SetStatus(ActivityStatusCode.Error, exception.Message);
    }

    /// <summary>The source holds the policy in force already: the load span says so, and nothing is counted.</summary>
    public static void PolicyLoadUnchanged() => PolicyLoadEnded("unchanged");

    private static Activity? CurrentPolicyLoad()
        => Activity.Current is { } load && ReferenceEquals(load.Source, ActivitySource) && load.OperationName == PolicyLoadName ? load : null;

    /// <summary>
    /// Records zero for every reload result, so that each series exists from the first scrape: Prometheus's increase()
    /// cannot see the first event of a series born at one, and the first rejected policy is the one an alert must catch.
    /// Called once the exporters listen (<see cref="TelemetryExtensions"/>); a measurement before that is lost.
    /// </summary>
    public void StartReloadSeriesAtZero()
    {
        foreach (var result in (string[])["success", "invalid", "failure"])
        {
            _reloads.Add(0, new KeyValuePair<string, object?>("result", result));
        }
    }

    public void TokenCacheLookup(bool hit)
    {
        if (_tokenCacheLookups.Enabled)
        {
            _tokenCacheCounts.Increment(hit ? 0 : 1);
        }
    }

    private static int Cell(DecisionReason reason, SettingsSource source) => ((int)reason * s_sourceCount) + (int)source;

    private AppDecisions DecisionsOf(int appSlot, string appTag)
    {
        var apps = Volatile.Read(ref _apps);
        return (uint)appSlot < (uint)apps.Length && apps[appSlot] is { } app ? app : AddApp(appSlot, appTag);
    }

    private AppDecisions AddApp(int appSlot, string appTag)
    {
        lock (_appsLock)
        {
            var apps = _apps;
            if (appSlot < apps.Length && apps[appSlot] is { } existing)
            {
                return existing;
            }

            var grown = new AppDecisions?[Math.Max(apps.Length, appSlot + 1)];
            apps.CopyTo(grown, 0);
            var added = grown[appSlot] = new AppDecisions(appTag, s_reasonCount * s_sourceCount);
            Volatile.Write(ref _apps, grown);
            return added;
        }
    }

    private IEnumerable<Measurement<long>> ObserveDecisions()
    {
        foreach (var app in Volatile.Read(ref _apps))
        {
            if (app is null)
            {
                continue;
            }

            for (var cell = 0; cell < app.Counts.Length; cell++)
            {
                if (app.Counts.Sum(cell) is var count && (count > 0 || app.IsReportedFromZero(cell)))
                {
                    yield return new Measurement<long>(count, app.Tags[cell]);
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveTokenCache()
    {
        yield return new Measurement<long>(_tokenCacheCounts.Sum(0), s_hit);
        yield return new Measurement<long>(_tokenCacheCounts.Sum(1), s_miss);
    }

    private sealed class BoxedVersion(long version)
    {
        public long Version { get; } = version;

        public object Boxed { get; } = version;
    }

    /// <summary>One app's decision counts, with each count's tag set built once.</summary>
    private sealed class AppDecisions
    {
        // One bit a cell: which counts are exported while still zero.
        private long _reportedFromZero;

        public AppDecisions(string appTag, int cells)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(cells, sizeof(long) * 8);
            Counts = new StripedCounts(cells);
            Tags = new KeyValuePair<string, object?>[cells][];
            for (var reason = 0; reason < s_reasonCount; reason++)
            {
                for (var source = 0; source < s_sourceCount; source++)
                {
                    var decision = new Decision((DecisionReason)reason, (SettingsSource)source, null, default);
                    Tags[Cell(decision.Reason, decision.Source)] =
                    [
                        new("xtac.decision", decision.Verdict),
                        new("xtac.reason", decision.ReasonName),
                        new("xtac.app", appTag),
                        new("xtac.settings_source", decision.SourceName),
                    ];
                }
            }
        }

        public StripedCounts Counts { get; }

        public KeyValuePair<string, object?>[][] Tags { get; }

        public void ReportFromZero(long cells) => Volatile.Write(ref _reportedFromZero, cells);

        public bool IsReportedFromZero(int cell) => (Volatile.Read(ref _reportedFromZero) & (1L << cell)) != 0;
    }

    private static string TenantTag(Guid tenant) => tenant.ToString();
}

internal sealed class TelemetryOptions : IValidatableObject
{
    public const string Section = "Xtac:Telemetry";

    /// <summary>Tag decisions with the caller's home tenant: useful, and one series per partner, so off by default.</summary>
    public bool TenantDimension { get; set; }

    /// <summary>
    /// With <see cref="TenantDimension"/> on, how many <c>xtac.decisions</c> series (tenant x app x reason x source)
    /// are kept before further ones are folded into one series tagged <c>otel.metric.overflow</c>. OpenTelemetry's
    /// default of 2,000 would be reached by a few hundred partners.
    /// </summary>
    [Range(2_000, 1_000_000)]
    public int TenantDimensionSeriesLimit { get; set; } = 50_000;

    /// <summary>Write user object IDs in logs as they are, instead of as a keyed hash.</summary>
    public bool LogUserObjectIds { get; set; }

    /// <summary>
    /// The key for hashing user object IDs in logs, shared by every instance so one user hashes alike across the fleet
    /// and restarts; a random per-process key when unset (with a warning outside Development). At least 32 characters:
    /// a short key lets whoever reads the logs recover user IDs by trying keys. Empty counts as unset (deployment
    /// templates often pass empty variables).
    /// </summary>
    public string? UserIdHashKey { get; set; }

    /// <summary>
    /// Time one decision in this many for <c>xtac.decision.duration</c> (1 times every decision). The histogram's
    /// count is then a sample; <c>xtac.decisions</c> counts every decision.
    /// </summary>
    [Range(1, 1_000_000)]
    public int DurationSampleInterval { get; set; } = 64;

    /// <summary>
    /// Also export the in-flight instruments that change on every request: <c>http.server.active_requests</c>,
    /// <c>http.client.active_requests</c> and <c>http.client.open_connections</c> (eight measurements per proxied
    /// request). Off by default: a paired load test measured them at ~6% of the gateway's CPU per proxied request.
    /// </summary>
    public bool InFlightInstruments { get; set; }

    /// <summary>Record spans. Unset means "when an exporter is configured" (OTLP or console).</summary>
    public bool? Tracing { get; set; }

    /// <summary>Also write metrics and traces to the console.</summary>
    public bool ConsoleExporter { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (UserIdHashKey is { Length: > 0 and < 32 })
        {
            yield return new ValidationResult(
                $"{Section}:{nameof(UserIdHashKey)} must be at least 32 characters (a 256-bit HMAC key); a shorter key lets whoever reads the logs recover user IDs by guessing it.",
                [nameof(UserIdHashKey)]);
        }
    }
}

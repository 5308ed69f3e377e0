using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenTelemetry.Trace;
using XtacGateway.Observability;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Observability;

public sealed class GatewayTelemetryTests
{
    [Fact]
    public async Task RecordDecision_AllowAndDeny_CountsByDecisionReasonAppAndSource()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:DurationSampleInterval"] = "1");
        using var decisions = Collector<long>(gateway, "xtac.decisions");
        using var durations = Collector<double>(gateway, "xtac.decision.duration");

        (await gateway.GetAsync("/a", gateway.Token())).Dispose();
        (await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner))).Dispose();
        (await gateway.GetAsync("/mfa/x", gateway.Token())).Dispose();
        (await gateway.GetAsync("/b", gateway.Token())).Dispose();

        // Counted by index and reported as running totals when read (the routes' other possible decisions at zero).
        decisions.RecordObservableInstruments();
        var measured = decisions.GetMeasurementSnapshot().Where(m => m.Value > 0).ToList();
        Assert.Equal(3, measured.Count);
        Assert.Equal(2, Assert.Single(measured, m => Tags(m, "allow", "Allowed", TestIds.OpenApp, "partner")).Value);
        Assert.Equal(1, Assert.Single(measured, m => Tags(m, "deny", "InboundPolicyBlocked", TestIds.OpenApp, "partner")).Value);
        Assert.Equal(1, Assert.Single(measured, m => Tags(m, "deny", "MfaRequired", TestIds.MfaApp, "partner")).Value);
        Assert.All(measured, m => Assert.False(m.Tags.ContainsKey("xtac.home_tenant")));
        Assert.Equal(4, durations.GetMeasurementSnapshot().Count);
        Assert.All(durations.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 1));
    }

    [Fact]
    public async Task ReportFromZero_BeforeAnyRequest_ReportsEachAppsPossibleDecisionsAtZero()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var measured = DecisionSeries(gateway);

        Assert.All(measured, m => Assert.Equal(0, m.Value));
        // The public route is forwarded without a decision, so it has no series.
        Assert.Equal([TestIds.OpenApp.ToString(), TestIds.MfaApp.ToString()], measured.Select(m => (string)m.Tags["xtac.app"]!).Distinct().Order());
        Assert.Equal(Possible(AppPolicy.Open(TestIds.OpenApp)), Reported(measured, TestIds.OpenApp));
        Assert.Equal(Possible(AppPolicy.Create(TestIds.MfaApp, GrantOperator.Or, GrantControl.Mfa)), Reported(measured, TestIds.MfaApp));
    }

    [Fact]
    public async Task ReportFromZero_RoutesReloaded_ZeroSeriesFollowTheRoutesInForce()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        (await gateway.GetAsync("/mfa/x", gateway.Token())).Dispose();
        var configuration = (IConfigurationRoot)gateway.App.Configuration;

        // The MFA route now blocks everyone, and the open route fronts another app.
        var otherApp = Guid.NewGuid();
        configuration["ReverseProxy:Routes:mfa:Metadata:Xtac.GrantControls"] = "block";
        configuration["ReverseProxy:Routes:open:Metadata:Xtac.AppId"] = otherApp.ToString();
        configuration.Reload();

        var blocking = Possible(AppPolicy.Create(TestIds.MfaApp, GrantOperator.Or, GrantControl.Block));
        var open = Possible(AppPolicy.Open(otherApp));
        await WaitUntilAsync(() => DecisionSeries(gateway) is var now
            && Reported(now.Where(m => m.Value == 0), TestIds.MfaApp).SequenceEqual(blocking) && Reported(now, otherApp).SequenceEqual(open));
        var measured = DecisionSeries(gateway);
        // A count already made stays, though its route can no longer give it; the app no route names has no zero series.
        Assert.Equal(1, Assert.Single(measured, m => m.Value > 0 && Equals(m.Tags["xtac.reason"], "MfaRequired")).Value);
        Assert.Empty(Reported(measured, TestIds.OpenApp));
        Assert.Equal(open, Reported(measured, otherApp));
    }

    [Fact]
    public async Task ReportFromZero_ReloadRefused_ZeroSeriesStayThoseOfTheRoutesInForce()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), configureBuilder: b => FakeLogs.Enable(b));
        var before = Reported(DecisionSeries(gateway), TestIds.MfaApp);
        var configuration = (IConfigurationRoot)gateway.App.Configuration;

        // Another app behind the open route, and a grant control the route check refuses: YARP keeps the old routes.
        var otherApp = Guid.NewGuid();
        configuration["ReverseProxy:Routes:open:Metadata:Xtac.AppId"] = otherApp.ToString();
        configuration["ReverseProxy:Routes:mfa:Metadata:Xtac.GrantControls"] = "mfa,fingerprint";
        configuration.Reload();

        await WaitUntilAsync(() => gateway.App.Services.GetFakeLogCollector().GetSnapshot()
            .Any(r => $"{r.Message} {r.Exception}".Contains("fingerprint", StringComparison.Ordinal)));
        var measured = DecisionSeries(gateway);
        Assert.Empty(Reported(measured, otherApp));
        Assert.Equal(Possible(AppPolicy.Open(TestIds.OpenApp)), Reported(measured, TestIds.OpenApp));
        Assert.Equal(before, Reported(measured, TestIds.MfaApp));
    }

    private static List<CollectedMeasurement<long>> DecisionSeries(GatewayHarness gateway)
    {
        using var decisions = Collector<long>(gateway, "xtac.decisions");
        decisions.RecordObservableInstruments();
        return [.. decisions.GetMeasurementSnapshot()];
    }

    private static string[] Possible(AppPolicy app)
        => [.. PolicySnapshot.PossibleDecisions(app)
            .Select(p => new Decision(p.Reason, p.Source, null, app.AppId))
            .Select(d => $"{d.Verdict}/{d.ReasonName}/{d.SourceName}")
            .Order()];

    private static string[] Reported(IEnumerable<CollectedMeasurement<long>> measured, Guid app)
        => [.. measured.Where(m => Equals(m.Tags["xtac.app"], app.ToString()))
            .Select(m => $"{m.Tags["xtac.decision"]}/{m.Tags["xtac.reason"]}/{m.Tags["xtac.settings_source"]}")
            .Order()];

    [Fact]
    public void StartDecisionTiming_IntervalFour_TimesEveryFourthDecisionOnAThread()
    {
        using var services = TelemetryServices(interval: 4);
        var telemetry = services.GetRequiredService<GatewayTelemetry>();
        using var durations = new MetricCollector<double>(services.GetRequiredService<IMeterFactory>(), GatewayTelemetry.Name, "xtac.decision.duration");
        var decision = new Decision(DecisionReason.Allowed, SettingsSource.Partner, TestIds.AllowedPartner, TestIds.OpenApp);
        var timed = new List<int>();

        // A thread of its own: the sampling count is per thread.
        var thread = new Thread(() =>
        {
            for (var i = 1; i <= 8; i++)
            {
                var start = telemetry.StartDecisionTiming();
                if (start != 0)
                {
                    timed.Add(i);
                }

                telemetry.RecordDecision(decision, GatewayTelemetry.AppSlot(TestIds.OpenApp.ToString()), TestIds.OpenApp.ToString(), start);
            }
        });
        thread.Start();
        thread.Join();

        Assert.Equal([4, 8], timed);
        Assert.Equal(2, durations.GetMeasurementSnapshot().Count);
    }

    [Fact]
    public async Task Start_DurationSampleIntervalZero_RefusesToStart()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:DurationSampleInterval"] = "0"));

        Assert.Contains("DurationSampleInterval", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordDecision_TenantDimensionOn_TagsEveryDecisionWithItsHomeTenant()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:TenantDimension"] = "true");
        using var decisions = Collector<long>(gateway, "xtac.decisions");

        (await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner))).Dispose();
        (await gateway.GetAsync("/a", gateway.Token(TestIds.UnlistedTenant))).Dispose();
        (await gateway.GetAsync("/a", gateway.Token(TestIds.ResourceTenant))).Dispose();
        (await gateway.GetAsync("/a", gateway.Token(claims: c => c["idp"] = "live.com"))).Dispose();

        // Counted as they happen, each with all five tags; a caller without a usable home tenant is "none".
        var measured = decisions.GetMeasurementSnapshot()
            .Select(m => string.Join(" ", new[] { "xtac.decision", "xtac.reason", "xtac.app", "xtac.settings_source", "xtac.home_tenant" }.Select(k => m.Tags[k])) + $" {m.Value}");
        var app = TestIds.OpenApp;
        Assert.Equal(
            [
                $"deny InboundPolicyBlocked {app} partner {TestIds.BlockedPartner} 1",
                $"deny InboundPolicyBlocked {app} default {TestIds.UnlistedTenant} 1",
                $"allow InternalUser {app} none {TestIds.ResourceTenant} 1",
                $"deny UnsupportedIdentityProvider {app} none none 1",
            ],
            measured);
    }

    [Fact]
    public async Task PolicyGauges_AfterReload_ReportVersionPartnersAndAge()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = Collector<long>(gateway, "xtac.policy.reloads");
        using var version = Collector<long>(gateway, "xtac.policy.version");
        using var partners = Collector<int>(gateway, "xtac.policy.partners");
        using var age = Collector<double>(gateway, "xtac.policy.age");

        // Replaced whole (temp file, then rename): a watcher that read a half-written file would count an early
        // "invalid", and the wait for the invalid edit below would be over before that edit was read.
        await gateway.WritePolicyAsync(TestPolicies.Document(TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll)));
        await WaitUntilAsync(() => reloads.GetMeasurementSnapshot().Any(m => Equals(m.Tags["result"], "success")));
        await gateway.WritePolicyAsync("{ \"default\": 7 }");
        await WaitUntilAsync(() => reloads.GetMeasurementSnapshot().Any(m => Equals(m.Tags["result"], "invalid")));

        version.RecordObservableInstruments();
        partners.RecordObservableInstruments();
        age.RecordObservableInstruments();
        Assert.Equal(2, version.LastMeasurement!.Value);
        Assert.Equal(1, partners.LastMeasurement!.Value);
        Assert.InRange(age.LastMeasurement!.Value, 0, 60);
    }

    [Fact]
    public void PolicyAge_UnchangedPolicyConfirmedBySource_TimeSinceConfirmationAndNoValueWithoutPolicy()
    {
        // The age an alert on Xtac:Policy:MaxAge needs is /readyz's: since the source last confirmed the policy, not
        // since it was loaded (an unchanged policy is loaded once), and no value at all while no policy is in force.
        var time = new ManualClock(new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero));
        using var gauge = new PolicyAgeGauge(time);

        Assert.Null(gauge.Read());

        gauge.Store.Swap(StandardSnapshot());
        time.Advance(TimeSpan.FromHours(2));
        gauge.Store.Confirm();
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(5, gauge.Read());
    }

    [Fact]
    public void PolicyGauges_NoPolicyYet_ReportNothingThenThePolicy()
    {
        // A starting instance has no version: reported as 0, it would show as drift on the version panel.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var store = new PolicySnapshotStore(TimeProvider.System);
        _ = new GatewayTelemetry(meters, store, Microsoft.Extensions.Options.Options.Create(new TelemetryOptions()));
        using var version = new MetricCollector<long>(meters, GatewayTelemetry.Name, "xtac.policy.version");
        using var fingerprint = new MetricCollector<long>(meters, GatewayTelemetry.Name, "xtac.policy.fingerprint");
        using var partners = new MetricCollector<int>(meters, GatewayTelemetry.Name, "xtac.policy.partners");

        version.RecordObservableInstruments();
        fingerprint.RecordObservableInstruments();
        partners.RecordObservableInstruments();
        Assert.Empty(version.GetMeasurementSnapshot());
        Assert.Empty(fingerprint.GetMeasurementSnapshot());
        Assert.Empty(partners.GetMeasurementSnapshot());

        var compiled = StandardSnapshot();
        var snapshot = compiled.WithVersion(new XtacGateway.Policy.Compilation.PolicyVersion(
            7, XtacGateway.Policy.Compilation.PolicyCompiler.ComputeETag(compiled.DocumentUtf8.Span), DateTimeOffset.UtcNow));
        store.Swap(snapshot);
        version.RecordObservableInstruments();
        fingerprint.RecordObservableInstruments();
        partners.RecordObservableInstruments();
        Assert.Equal(snapshot.Version, version.LastMeasurement!.Value);
        Assert.Equal(GatewayTelemetry.Fingerprint(snapshot.ETag), fingerprint.LastMeasurement!.Value);
        Assert.Equal(snapshot.PartnerCount, partners.LastMeasurement!.Value);
    }

    [Fact]
    public async Task PolicyAge_WallClockStepped_FollowsTheTimeThatPassedAndReadinessHolds()
    {
        // An NTP step of an hour forward would otherwise fail readiness on every instance at once; one back would keep a
        // policy its source stopped confirming ready for an hour longer.
        var time = new ManualClock(new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero));
        using var gauge = new PolicyAgeGauge(time);
        var readiness = new PolicySnapshotHealthCheck(gauge.Store, Microsoft.Extensions.Options.Options.Create(new GatewayOptions()));
        gauge.Store.Swap(StandardSnapshot());

        time.Advance(TimeSpan.FromSeconds(5));
        time.StepWallClock(TimeSpan.FromHours(1));
        Assert.Equal(5, gauge.Read());
        Assert.Equal(HealthStatus.Healthy, (await readiness.CheckHealthAsync(new HealthCheckContext())).Status);

        time.StepWallClock(TimeSpan.FromHours(-3));
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(665, gauge.Read());
        Assert.Equal(HealthStatus.Unhealthy, (await readiness.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task PolicyAge_RestoredFileDatedCenturiesAgo_StaleNotNegative()
    {
        // A last-known-good file gone between read and stat reads as written in 1601. On the real clock (10^9 ticks a
        // second) that age overflowed the timestamp arithmetic and came out negative: a stale policy reported fresh.
        using var gauge = new PolicyAgeGauge(TimeProvider.System);
        var readiness = new PolicySnapshotHealthCheck(gauge.Store, Microsoft.Extensions.Options.Options.Create(new GatewayOptions()));

        gauge.Store.Swap(StandardSnapshot(), confirmedAgo: DateTimeOffset.UtcNow - DateTimeOffset.FromFileTime(0));

        Assert.True(gauge.Read() > TimeSpan.FromDays(30).TotalSeconds, $"age {gauge.Read()} s");
        Assert.Equal(HealthStatus.Unhealthy, (await readiness.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    /// <summary>A snapshot store on a given clock, and the <c>xtac.policy.age</c> gauge the gateway's telemetry reports for it.</summary>
    private sealed class PolicyAgeGauge : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MetricCollector<double> _age;

        public PolicyAgeGauge(TimeProvider time)
        {
            var meters = _services.GetRequiredService<IMeterFactory>();
            Store = new PolicySnapshotStore(time);
            _ = new GatewayTelemetry(meters, Store, Microsoft.Extensions.Options.Options.Create(new TelemetryOptions()));
            _age = new MetricCollector<double>(meters, GatewayTelemetry.Name, "xtac.policy.age");
        }

        public PolicySnapshotStore Store { get; }

        /// <summary>The gauge's value now, or null when it reports none.</summary>
        public double? Read()
        {
            _age.Clear();
            _age.RecordObservableInstruments();
            return _age.LastMeasurement?.Value;
        }

        public void Dispose()
        {
            _age.Dispose();
            Store.Dispose();
            _services.Dispose();
        }
    }

    private static XtacGateway.Policy.Compilation.PolicySnapshot StandardSnapshot()
        => XtacGateway.Policy.Compilation.PolicyCompiler.Compile(XtacGateway.Policy.Validation.PolicyParser.Parse(TestPolicies.Standard()).Document!, TestIds.ResourceTenant);

    [Fact]
    public async Task PolicyFingerprint_SameDocumentUnderDifferentVersions_EqualAcrossInstances()
    {
        // Two instances reading the same file, one of which loaded another edit first: versions differ, documents do not.
        var other = TestPolicies.Document(TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll));
        await using var first = await GatewayHarness.StartAsync(TestPolicies.Standard());
        await using var second = await GatewayHarness.StartAsync(other);
        using var firstFingerprint = Collector<long>(first, "xtac.policy.fingerprint");
        using var secondFingerprint = Collector<long>(second, "xtac.policy.fingerprint");
        using var secondReloads = Collector<long>(second, "xtac.policy.reloads");
        secondFingerprint.RecordObservableInstruments();
        var beforeEdit = secondFingerprint.LastMeasurement!.Value;

        await File.WriteAllTextAsync(second.PolicyPath, TestPolicies.Standard());
        await WaitUntilAsync(() => secondReloads.GetMeasurementSnapshot().Any(m => Equals(m.Tags["result"], "success")));

        firstFingerprint.RecordObservableInstruments();
        secondFingerprint.RecordObservableInstruments();
        var store = first.Service<PolicySnapshotStore>();
        Assert.NotEqual(store.Current!.Version, second.Service<PolicySnapshotStore>().Current!.Version);
        Assert.Equal(firstFingerprint.LastMeasurement!.Value, secondFingerprint.LastMeasurement!.Value);
        Assert.NotEqual(beforeEdit, secondFingerprint.LastMeasurement!.Value);
        // The ETag's first twelve hex digits, so an operator can match the gauge to the admin API's ETag.
        Assert.Equal(store.Current.ETag.Trim('"')[..12], firstFingerprint.LastMeasurement!.Value.ToString("x12"));
    }

    [Theory]
    [InlineData("hand-written")]
    [InlineData("\"0123\"")]
    [InlineData("")]
    public void Fingerprint_ETagNotOfTheGatewaysMaking_StableAnd48Bits(string etag)
    {
        var fingerprint = GatewayTelemetry.Fingerprint(etag);

        Assert.Equal(fingerprint, GatewayTelemetry.Fingerprint(etag));
        Assert.NotEqual(fingerprint, GatewayTelemetry.Fingerprint(etag + "x"));
        Assert.InRange(fingerprint, 0, (1L << 48) - 1);
    }

    [Fact]
    public async Task Invoke_Denied_LogsDecisionWithHashedUser()
    {
        const string key = "a-fleet-wide-key-of-32-characters";
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:UserIdHashKey"] = key,
            configureBuilder: b => FakeLogs.Enable(b));
        var oid = Guid.NewGuid();

        using var response = await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner, c => c["oid"] = oid.ToString()));
        var traceId = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("traceId").GetString();

        var record = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 2001);
        Assert.Equal(LogLevel.Information, record.Level);
        var version = $"policy version {gateway.Service<PolicySnapshotStore>().Current!.Version},";
        foreach (var expected in new[] { "InboundPolicyBlocked", "AADSTS500213", TestIds.OpenApp.ToString(), TestIds.BlockedPartner.ToString(), "settings partner,", version, traceId! })
        {
            Assert.Contains(expected, record.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(oid.ToString(), record.Message, StringComparison.Ordinal);
        // Keyed: HMAC-SHA256 under the fleet's key, so every instance writes the same user alike and nobody without the
        // key can test a guessed object ID against it.
        var keyedHash = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(oid.ToString())).AsSpan(0, 8));
        Assert.Contains($"h:{keyedHash}", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_Allowed_LogsAtDebugOnly()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:LogUserObjectIds"] = "true", configureBuilder: b => FakeLogs.Enable(b));
        var oid = Guid.NewGuid();

        (await gateway.GetAsync("/a", gateway.Token(TestIds.AllowedPartner, c => c["oid"] = oid.ToString()))).Dispose();

        var record = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 2002);
        Assert.Equal(LogLevel.Debug, record.Level);
        var version = $"policy version {gateway.Service<PolicySnapshotStore>().Current!.Version},";
        // The request's trace, as YARP handed it to the app.
        var traceId = Assert.Single(gateway.Backend.Requests).Headers["traceparent"].ToString().Split('-')[1];
        foreach (var expected in new[] { oid.ToString(), TestIds.OpenApp.ToString(), TestIds.AllowedPartner.ToString(), "settings partner,", version, $"trace {traceId}" })
        {
            Assert.Contains(expected, record.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 2001);
    }

    [Theory]
    [InlineData("Production", null, true)]
    // Deployment templates often pass an empty variable for an unset one: it starts, as if unset.
    [InlineData("Production", "", true)]
    [InlineData("Production", "a-fleet-wide-key-of-32-characters", false)]
    [InlineData("Development", null, false)]
    public async Task Start_UserIdHashKeyUnset_WarnsOutsideDevelopment(string environment, string? key, bool warns)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Telemetry:UserIdHashKey"] = key,
            configureBuilder: b => FakeLogs.Enable(b), environment: environment);
        // The provider is built with the enforcement middleware: one request makes sure it exists.
        (await gateway.GetAsync("/a", gateway.Token(TestIds.BlockedPartner))).Dispose();

        var warnings = gateway.App.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 2003).ToArray();
        Assert.Equal(warns ? 1 : 0, warnings.Length);
        Assert.All(warnings, w => Assert.Contains("Xtac:Telemetry:UserIdHashKey is not set", w.Message, StringComparison.Ordinal));
    }

    private static ServiceProvider TelemetryServices(int interval)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PolicySnapshotStore>();
        services.AddSingleton<GatewayTelemetry>();
        services.Configure<TelemetryOptions>(o => o.DurationSampleInterval = interval);
        return services.BuildServiceProvider();
    }

    private static MetricCollector<T> Collector<T>(GatewayHarness gateway, string instrument) where T : struct
        => new(gateway.Service<IMeterFactory>(), "XtacGateway", instrument);

    private static bool Tags(CollectedMeasurement<long> m, string decision, string reason, Guid app, string source)
        => Equals(m.Tags["xtac.decision"], decision) && Equals(m.Tags["xtac.reason"], reason)
            && Equals(m.Tags["xtac.app"], app.ToString()) && Equals(m.Tags["xtac.settings_source"], source);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 10 s.");
            await Task.Delay(50);
        }
    }
}
